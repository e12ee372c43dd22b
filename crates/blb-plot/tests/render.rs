//! Rendering tests: the experiment's figure, every panel feature and degenerate inputs, to
//! PNG and SVG.

use std::path::Path;

use blb_plot::{
    Figure, Marker, Panel, PlotError, Series, Style, render_png, render_svg, svg_string,
};

/// Decodes the PNG at `path` and checks its size.
fn assert_png(path: &Path, width: u32, height: u32) {
    let bytes = std::fs::read(path).expect("png written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "PNG signature");
    let img =
        image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).expect("PNG decodes");
    assert_eq!((img.width(), img.height()), (width, height));
    // Not a blank canvas: something (text at least) is drawn.
    let rgb = img.to_rgb8();
    let inked = rgb
        .pixels()
        .filter(|p| p.0.iter().any(|&c| c < 200))
        .count();
    assert!(inked > 30, "only {inked} inked pixels");
}

#[test]
fn experiment_figure_to_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let fig = blb_plot::demo::figure();
    let png = dir.path().join("fig.png");
    let svg = dir.path().join("fig.svg");
    render_png(&fig, &png, 1200, 900).unwrap();
    render_svg(&fig, &svg, 1200, 900).unwrap();
    assert_png(&png, 1200, 900);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"));
    for needle in [
        "single",
        "round-robin",
        "hash",
        "blb",
        "threshold th_y = 20",
        "V = 9",
        "time (s)",
        "max Y_n over sensors",
        "load variance",
        "Y_n over time",
        "load variance per second",
        "font-family=\"sans-serif\"",
    ] {
        assert!(text.contains(needle), "SVG lacks {needle:?}");
    }
}

#[test]
fn png_path_extension_does_not_matter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("figure.out");
    render_png(&blb_plot::demo::figure(), &path, 800, 600).unwrap();
    assert_png(&path, 800, 600);
}

/// A figure made of the given panels.
fn fig(panels: Vec<Panel>) -> Figure {
    Figure {
        title: "degenerate".into(),
        x_label: "time (s)".into(),
        panels,
    }
}

/// A panel with one series through `points` and a reference line at `hline`.
fn panel(points: Vec<(f64, f64)>, hline: Option<f64>, y_log: bool) -> Panel {
    Panel {
        title: "panel".into(),
        y_label: "value".into(),
        series: vec![Series::new("s", points)],
        hline: hline.map(|v| (v, format!("ref = {v}"))),
        y_log,
        ..Panel::default()
    }
}

/// Every degenerate figure, each rendered both ways.
fn degenerate() -> Vec<Figure> {
    let nan = f64::NAN;
    let inf = f64::INFINITY;
    let mut out = vec![
        Figure::default(),
        fig(vec![]),
        fig(vec![Panel::default()]),
        fig(vec![panel(vec![], None, false)]),
        fig(vec![panel(vec![], Some(20.0), false)]),
        fig(vec![panel(
            vec![(nan, nan), (nan, 1.0), (1.0, nan)],
            Some(nan),
            false,
        )]),
        fig(vec![panel(vec![(5.0, 3.0)], None, false)]),
        fig(vec![panel(vec![(5.0, 3.0)], Some(20.0), true)]),
        fig(vec![panel(
            vec![(0.0, 0.0), (1.0, 0.0), (2.0, 0.0)],
            None,
            false,
        )]),
        fig(vec![panel(vec![(0.0, 0.0), (1.0, 0.0)], None, true)]),
        fig(vec![panel(
            vec![(0.0, -5.0), (1.0, -5.0)],
            Some(-1.0),
            false,
        )]),
        fig(vec![panel(
            vec![(0.0, 1.0), (0.0, 2.0), (0.0, 3.0)],
            None,
            false,
        )]),
        fig(vec![panel(
            vec![(0.0, 1.0), (1.0, inf), (2.0, -inf), (3.0, 2.0)],
            None,
            false,
        )]),
        fig(vec![panel(
            vec![(0.0, f64::MAX), (1.0, f64::MIN), (2.0, 1e300)],
            None,
            false,
        )]),
        fig(vec![panel(vec![(-1e300, 1.0), (1e300, 2.0)], None, false)]),
        fig(vec![panel(
            vec![(0.0, 1e-300), (1.0, 1e300)],
            Some(1e-9),
            true,
        )]),
        fig(vec![panel(
            vec![(3.0, 1.0), (1.0, 2.0), (2.0, 0.5)],
            Some(0.0),
            false,
        )]),
    ];
    // Long and odd labels, many series with a shared label, an empty label.
    let mut busy = panel(vec![(0.0, 1.0), (1.0, 2.0)], Some(1.5), false);
    busy.series
        .extend((0..40).map(|i| Series::new(format!("series {}", i % 30), vec![])));
    busy.series.push(Series::new("", vec![(0.5, 1.5)]));
    busy.series.push(Series::new(
        "<&\"'> ünïcödé 日本 ".repeat(8),
        vec![(0.0, 0.0)],
    ));
    busy.hline = Some((1.5, String::new()));
    out.push(fig(vec![busy.clone(), Panel::default(), busy]));
    out.push(Figure {
        title: String::new(),
        x_label: String::new(),
        ..fig(vec![])
    });
    // The new panel features with nothing or nothing finite to draw.
    let odd = vec![
        (nan, nan),
        (inf, 1.0),
        (1.0, -inf),
        (f64::MAX, 1.0),
        (-1e300, 1e300),
    ];
    let marker = |x: f64| Marker {
        x,
        label: format!("at {x}"),
        series: Some("s".into()),
    };
    let mut own = panel(odd.clone(), Some(nan), false);
    own.series.push(Series::points("p", odd.clone()));
    own.x_label = Some(String::new());
    own.markers = vec![marker(nan), marker(inf), marker(-inf)];
    out.push(fig(vec![own.clone()]));
    let mut cats = own.clone();
    cats.x_categories = vec![String::new(); 3];
    cats.y_log = true;
    out.push(fig(vec![cats, own.clone()]));
    let mut many = Panel {
        x_categories: (0..200).map(|i| format!("category {i}")).collect(),
        ..Panel::default()
    };
    many.series
        .push(Series::points("p", vec![(1e300, 1.0), (-3.0, 2.0)]));
    many.markers = (0..50).map(|i| marker(f64::from(i) * 1e-3)).collect();
    out.push(fig(vec![many]));
    let mut lone = panel(vec![(5.0, 5.0)], None, true);
    lone.series[0].style = Style::Points;
    lone.markers = vec![marker(5.0), marker(1e300), marker(-1e300), marker(5.0)];
    lone.markers[3].label.clear();
    out.push(fig(vec![lone, Panel::default()]));
    out
}

#[test]
fn degenerate_inputs_render() {
    let dir = tempfile::tempdir().unwrap();
    for (i, f) in degenerate().iter().enumerate() {
        for (w, h) in [(1200, 900), (400, 500), (320, 240)] {
            match svg_string(f, w, h) {
                Ok(svg) => assert!(svg.contains("</svg>")),
                // The smallest canvas only takes one panel.
                Err(PlotError::InvalidSize { .. }) if f.panels.len() > 1 && w == 320 => continue,
                Err(e) => panic!("figure {i} at {w}x{h}: {e}"),
            }
            // Bitmaps are slow in debug builds: the large one is covered by the tests above.
            if w < 1200 {
                let png = dir.path().join(format!("d{i}-{w}.png"));
                render_png(f, &png, w, h).unwrap_or_else(|e| panic!("figure {i} {w}x{h}: {e}"));
                assert_png(&png, w, h);
            }
        }
    }
}

#[test]
fn empty_panel_keeps_its_labels() {
    let f = fig(vec![panel(vec![(f64::NAN, 1.0)], Some(20.0), false)]);
    let svg = svg_string(&f, 1200, 900).unwrap();
    for needle in [
        "degenerate",
        "panel",
        "value",
        "time (s)",
        "ref = 20",
        "no data",
    ] {
        assert!(svg.contains(needle), "SVG lacks {needle:?}");
    }
}

#[test]
fn bad_sizes_are_errors() {
    let f = blb_plot::demo::figure();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.png");
    for (w, h) in [
        (0, 0),
        (0, 900),
        (1200, 0),
        (100, 100),
        (319, 900),
        (20_000, 900),
    ] {
        assert!(matches!(
            render_png(&f, &path, w, h),
            Err(PlotError::InvalidSize { .. })
        ));
        assert!(matches!(
            svg_string(&f, w, h),
            Err(PlotError::InvalidSize { .. })
        ));
    }
    let many = fig((0..50).map(|_| Panel::default()).collect());
    assert!(matches!(
        svg_string(&many, 1200, 900),
        Err(PlotError::InvalidSize { .. })
    ));
    assert!(!path.exists());
}

#[test]
fn unwritable_path_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("x.png");
    let f = blb_plot::demo::figure();
    assert!(matches!(
        render_png(&f, &path, 800, 600),
        Err(PlotError::Io { .. })
    ));
    assert!(matches!(
        render_svg(&f, &path, 800, 600),
        Err(PlotError::Io { .. })
    ));
}

#[test]
fn panel_counts_up_to_the_limit_render() {
    // Whatever fits passes the size check and must then draw without error.
    for n in 1..=12 {
        let f = fig((0..n)
            .map(|i| panel(vec![(0.0, 0.0), (f64::from(i), 1.0)], None, false))
            .collect());
        match svg_string(&f, 320, 240) {
            Ok(svg) => assert!(svg.contains("</svg>")),
            Err(PlotError::InvalidSize { .. }) => {}
            Err(e) => panic!("{n} panels: {e}"),
        }
    }
}

/// The text content of every `<text>` element of `svg`, trimmed.
fn texts(svg: &str) -> Vec<&str> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim())
        })
        .collect()
}

/// The number of `<tag` elements of `svg`.
fn count(svg: &str, tag: &str) -> usize {
    svg.matches(&format!("<{tag} ")).count()
}

#[test]
fn points_series_draw_markers_only() {
    let dir = tempfile::tempdir().unwrap();
    let pts: Vec<(f64, f64)> = (0..20)
        .map(|i| (f64::from(i), f64::from(i % 7)))
        .chain([(f64::NAN, 1.0), (3.0, f64::INFINITY)])
        .collect();
    let one = fig(vec![Panel {
        series: vec![Series::points("runs", pts.clone())],
        ..panel(vec![], None, false)
    }]);
    assert_eq!(one.panels[0].series[0].style, Style::Points);
    let svg = svg_string(&one, 1200, 900).unwrap();
    // One disc per finite point plus the legend sample, and no line through them.
    assert_eq!(count(&svg, "circle"), 21);
    let png = dir.path().join("points.png");
    render_png(&one, &png, 800, 600).unwrap();
    assert_png(&png, 800, 600);

    // The next series get other shapes: squares, then triangles.
    let mut three = one.clone();
    let shifted = |dy: f64| pts.iter().map(|&(x, y)| (x, y + dy)).collect();
    three.panels[0]
        .series
        .push(Series::points("more", shifted(0.5)));
    three.panels[0]
        .series
        .push(Series::points("most", shifted(1.0)));
    let svg3 = svg_string(&three, 1200, 900).unwrap();
    assert_eq!(count(&svg3, "circle"), 21);
    assert!(count(&svg3, "rect") >= count(&svg, "rect") + 21);
    assert!(count(&svg3, "polygon") >= count(&svg, "polygon") + 21);
    for needle in ["runs", "more", "most"] {
        assert!(texts(&svg3).contains(&needle), "SVG lacks {needle:?}");
    }
    assert_eq!(Series::new("l", vec![]).style, Style::Line);
    assert_eq!(Style::default(), Style::Line);
}

#[test]
fn overlapping_lines_stay_apart() {
    // Two all-zero lines: different dash patterns and their markers side by side.
    let zero: Vec<(f64, f64)> = (0..=100).map(|i| (f64::from(i), 0.0)).collect();
    let f = fig(vec![Panel {
        series: vec![Series::new("a", zero.clone()), Series::new("b", zero)],
        ..panel(vec![], None, false)
    }]);
    let svg = svg_string(&f, 1200, 900).unwrap();
    // Line markers: discs for "a", squares for "b".
    assert!(count(&svg, "circle") >= 5, "{}", count(&svg, "circle"));
    // "b" is dashed: many short polylines.
    assert!(count(&svg, "polyline") > 30);
}

#[test]
fn own_x_axis_has_its_label_and_range() {
    let shared = panel(vec![(0.0, 1.0), (10.0, 2.0)], None, false);
    let own = Panel {
        title: "by rate".into(),
        x_label: Some("offered load (kpps)".into()),
        series: vec![Series::new("r", vec![(1000.0, 1.0), (5000.0, 3.0)])],
        ..Panel::default()
    };
    let f = fig(vec![shared, own]);
    let svg = svg_string(&f, 1200, 900).unwrap();
    let t = texts(&svg);
    assert!(t.contains(&"offered load (kpps)"));
    assert_eq!(t.iter().filter(|s| **s == "time (s)").count(), 1);
    // Each axis has its own ticks: 0..10 under the first, 1000..5000 under the second.
    assert!(t.contains(&"10") && t.contains(&"3000"), "{t:?}");
    // Without its own label the second panel shares 0..5000 and the figure's label.
    let mut together = f.clone();
    together.panels[1].x_label = None;
    let svg = svg_string(&together, 1200, 900).unwrap();
    let t = texts(&svg);
    assert!(!t.contains(&"offered load (kpps)"));
    assert_eq!(t.iter().filter(|s| **s == "time (s)").count(), 2);
    assert!(!t.contains(&"10") && t.contains(&"3000"), "{t:?}");
}

#[test]
fn markers_show_their_labels() {
    let mut p = panel(vec![(0.0, 1.0), (100.0, 2.0)], Some(1.5), false);
    p.markers = vec![
        Marker {
            x: 40.0,
            label: "alarm of s".into(),
            series: Some("s".into()),
        },
        Marker {
            x: 40.5,
            label: "close by".into(),
            series: None,
        },
        Marker {
            x: 250.0,
            label: "far right".into(),
            series: Some("unknown".into()),
        },
        Marker {
            x: f64::NAN,
            label: "not shown".into(),
            series: None,
        },
    ];
    let svg = svg_string(&fig(vec![p.clone()]), 1200, 900).unwrap();
    let t = texts(&svg);
    for needle in ["alarm of s", "close by", "far right"] {
        assert!(t.contains(&needle), "SVG lacks {needle:?}");
    }
    assert!(!t.contains(&"not shown"));
    // The marker at 250 widens the x range past the data.
    assert!(t.contains(&"250"), "{t:?}");
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("markers.png");
    render_png(&fig(vec![p]), &png, 640, 480).unwrap();
    assert_png(&png, 640, 480);
}

#[test]
fn categories_name_the_ticks() {
    let names = ["single", "round-robin", "hash", "blb"];
    let p = Panel {
        title: "strip".into(),
        y_label: "seconds".into(),
        x_label: Some("algorithm".into()),
        x_categories: names.iter().map(|n| n.to_string()).collect(),
        series: names
            .iter()
            .enumerate()
            .map(|(i, n)| Series::points(*n, vec![(i as f64, 10.0 + i as f64)]))
            .collect(),
        ..Panel::default()
    };
    let svg = svg_string(&fig(vec![p]), 1200, 900).unwrap();
    let t = texts(&svg);
    for name in names {
        // Once as a tick, once in the legend.
        assert_eq!(t.iter().filter(|s| **s == name).count(), 2, "{name}: {t:?}");
    }
    assert!(t.contains(&"algorithm"));
    assert!(!t.contains(&"time (s)"));
    // No numeric x ticks.
    assert!(!t.contains(&"0.5") && !t.contains(&"1"), "{t:?}");

    // Too many names for the width: every n-th one is shown, from the first.
    let crowd = Panel {
        x_categories: (0..60).map(|i| format!("category {i}")).collect(),
        series: vec![Series::points("p", vec![(0.0, 1.0), (59.0, 2.0)])],
        ..Panel::default()
    };
    let svg = svg_string(&fig(vec![crowd]), 1200, 900).unwrap();
    let t = texts(&svg);
    let shown = t.iter().filter(|s| s.starts_with("category ")).count();
    assert!(
        t.contains(&"category 0") && (2..30).contains(&shown),
        "{t:?}"
    );
}

#[test]
fn feature_figure_to_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let f = blb_plot::demo::features();
    let png = dir.path().join("features.png");
    render_png(&f, &png, 1200, 900).unwrap();
    assert_png(&png, 1200, 900);
    let svg = svg_string(&f, 1200, 900).unwrap();
    let t = texts(&svg);
    for needle in [
        "attack starts",
        "single alarm",
        "operator paged",
        "blb alarm",
        "algorithm",
        "round-robin",
        "offered load (kpps)",
        "link saturated",
        "time (s)",
    ] {
        assert!(t.contains(&needle), "SVG lacks {needle:?}");
    }
    assert!(!t.contains(&"never shown"));
    for (w, h) in [(800, 600), (400, 500)] {
        svg_string(&f, w, h).unwrap();
    }
}
