//! Rendering tests: the experiment's figure and degenerate inputs, to PNG and SVG.

use std::path::Path;

use blb_plot::{Figure, Panel, PlotError, Series, render_png, render_svg, svg_string};

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
