//! One panel: axes, reference line, vertical markers, series and their annotations.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::XAxis;
use super::legend::{self, LINE_MARK, POINT_MARK};
use super::shapes::{marker, marker_color, stroke};
use super::{de, font, px, px_i, x_area, y_area};
use crate::geom::{self, Px};
use crate::look::{self, Look, Pattern, Shape};
use crate::{Figure, Panel, PlotError, Style, data};

/// Distance between the small markers along a line, in reference pixels.
const MARK_SPACING: f64 = 100.0;
/// Text size of the vertical markers' labels, in reference pixels.
const MARKER_FONT: f64 = 13.0;

/// The chart of a panel, with its x axis and a linear or logarithmic y axis.
type Chart<'a, DB, Y> = ChartContext<'a, DB, Cartesian2d<XAxis, Y>>;

/// A vertical marker line as drawn: its pixel abscissa, colour and label.
struct VLine<'a> {
    x: f64,
    rgb: (u8, u8, u8),
    label: &'a str,
}

/// What drawing one panel needs.
pub(super) struct PanelCtx<'a> {
    /// The figure the panel belongs to.
    pub(super) fig: &'a Figure,
    /// The panel.
    pub(super) panel: &'a Panel,
    /// The figure's series labels, in the order that picks their looks.
    pub(super) labels: &'a [&'a str],
    /// The x range of the panel.
    pub(super) x: (f64, f64),
    /// The canvas scale.
    pub(super) s: f64,
}

impl PanelCtx<'_> {
    /// Draws the panel in `area`, its legend in the rightmost `legend_w` pixels.
    pub(super) fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        legend_w: u32,
    ) -> Result<(), PlotError> {
        let s = self.s;
        let (w, _) = area.dim_in_pixel();
        let (plot_area, legend_area) = area.split_horizontally(w.saturating_sub(legend_w));
        let mut builder = ChartBuilder::on(&plot_area);
        builder
            .caption(self.panel.title.as_str(), font(s, 21.0, BLACK))
            .margin_top(px(s, 6.0))
            .margin_right(px(s, 14.0))
            .margin_left(px(s, 14.0))
            .margin_bottom(px(s, 10.0))
            .x_label_area_size(x_area(s))
            .y_label_area_size(y_area(s));
        let x = if self.panel.x_categories.is_empty() {
            XAxis::numeric(self.x)
        } else {
            let ticks = data::category_ticks(self.panel, self.x);
            XAxis::categories(self.x, ticks.into_iter().map(|(x, _)| x).collect())
        };
        let (y0, y1) = data::y_range(self.panel);
        // The plot's top edge, relative to `area`, places the legend level with it.
        let plot_top = if self.panel.y_log {
            let mut chart = builder
                .build_cartesian_2d(x, (y0..y1).log_scale())
                .map_err(de)?;
            self.plot(&mut chart, &plot_area)?
        } else {
            let mut chart = builder.build_cartesian_2d(x, y0..y1).map_err(de)?;
            self.plot(&mut chart, &plot_area)?
        };
        let top = plot_top - area.get_base_pixel().1;
        legend::draw(&legend_area, self.panel, self.labels, s, top)
    }

    /// Draws axes, reference line, markers and series on `chart`; returns the plot's top
    /// pixel row.
    fn plot<DB, Y>(
        &self,
        chart: &mut Chart<'_, DB, Y>,
        plot_area: &DrawingArea<DB, Shift>,
    ) -> Result<i32, PlotError>
    where
        DB: DrawingBackend,
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let s = self.s;
        let categories = data::category_ticks(self.panel, self.x);
        let step = self.category_step(
            plot_area,
            &categories,
            chart.plotting_area().dim_in_pixel().0,
        )?;
        let x_fmt = |v: &f64| match categories.iter().find(|(x, _)| (x - v).abs() < 1e-6) {
            // Category positions are small non-negative integers.
            Some((x, name)) if (*x as usize).is_multiple_of(step) => (*name).to_string(),
            Some(_) => String::new(),
            None if categories.is_empty() => data::tick(*v),
            None => String::new(),
        };
        let y_fmt = |v: &f64| data::tick(*v);
        chart
            .configure_mesh()
            .x_desc(data::x_label(self.fig, self.panel))
            .y_desc(self.panel.y_label.as_str())
            .x_labels(10)
            .y_labels(8)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style(font(s, 15.0, BLACK))
            .axis_desc_style(font(s, 18.0, BLACK))
            .bold_line_style(RGBColor(215, 215, 215))
            .light_line_style(RGBColor(244, 244, 244))
            .x_max_light_lines(2)
            .y_max_light_lines(2)
            .axis_style(RGBColor(60, 60, 60))
            .draw()
            .map_err(de)?;

        let area = chart.plotting_area().strip_coord_spec();
        let base = area.get_base_pixel();
        let to_px = |p: (f64, f64)| -> Px {
            let (x, y) = chart.backend_coord(&p);
            (f64::from(x - base.0), f64::from(y - base.1))
        };

        let hline = data::hline(self.panel);
        if let Some((v, _)) = hline {
            let path = [to_px((self.x.0, v)), to_px((self.x.1, v))];
            stroke(&area, &path, &look::HLINE, s)?;
        }
        let markers = self.marker_lines(&area, &to_px)?;

        let floor = data::log_floor(self.panel);
        let mut drawn = 0usize;
        for series in &self.panel.series {
            let look = look::look_of(self.labels, &series.label);
            let index = self.labels.iter().position(|l| *l == series.label);
            for seg in data::segments(&series.points, floor) {
                drawn += seg.len();
                let path: Vec<Px> = seg.into_iter().map(&to_px).collect();
                self.series(&area, &path, &look, series.style, index.unwrap_or(0))?;
            }
        }

        self.marker_labels(&area, &markers)?;
        let (bx, by) = chart.plotting_area().get_base_pixel();
        let (pw, ph) = chart.plotting_area().dim_in_pixel();
        let (ox, oy) = plot_area.get_base_pixel();
        if let Some((v, label)) = hline {
            let (_, line_y) = chart.backend_coord(&(self.x.1, v));
            self.annotate(plot_area, label, (bx - ox + px_i(pw), line_y - oy), by - oy)?;
        }
        if drawn == 0 {
            let style =
                font(s, 18.0, RGBColor(120, 120, 120)).pos(Pos::new(HPos::Center, VPos::Center));
            let at = (bx - ox + px_i(pw / 2), by - oy + px_i(ph / 2));
            plot_area
                .draw(&Text::new("no data", at, style))
                .map_err(de)?;
        }
        Ok(by)
    }

    /// Every how many categories a name fits under the x axis, `plot_w` pixels wide: names
    /// too wide for one category's share of the axis are shown only for every n-th one.
    fn category_step<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        categories: &[(f64, &str)],
        plot_w: u32,
    ) -> Result<usize, PlotError> {
        if categories.is_empty() {
            return Ok(1);
        }
        let style = font(self.s, 15.0, BLACK);
        let mut widest = 0u32;
        for (_, name) in categories {
            widest = widest.max(area.estimate_text_size(name, &style).map_err(de)?.0);
        }
        let per_category = f64::from(plot_w.max(1)) / (self.x.1 - self.x.0);
        let needed = f64::from(widest) + f64::from(px(self.s, 14.0));
        let step = (needed / per_category).ceil();
        // A step beyond the number of categories shows only the first name.
        Ok(if step >= 1.0 {
            step.min(1e9) as usize
        } else {
            1
        })
    }

    /// Draws one run of drawable points (pixels relative to the plotting `area`) of a series
    /// in `style`, the `index`-th label of the figure.
    fn series<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        path: &[Px],
        look: &Look,
        style: Style,
        index: usize,
    ) -> Result<(), PlotError> {
        let s = self.s;
        match style {
            Style::Points => {
                let color = marker_color(look, true);
                for &p in path {
                    marker(area, look.shape, p, POINT_MARK * s, color)?;
                }
            }
            Style::Line => {
                let color = marker_color(look, false);
                if let [p] = path {
                    return marker(area, look.shape, *p, LINE_MARK * s, color);
                }
                stroke(area, path, look, s)?;
                // Each label has its own phase, so the markers of lines that lie on top of
                // each other fall side by side.
                let spacing = MARK_SPACING * s;
                let phase = spacing * ((index % 6) as f64 + 0.5) / 6.0;
                for p in geom::line_marks(path, phase, spacing) {
                    marker(area, look.shape, p, LINE_MARK * s, color)?;
                }
            }
        }
        Ok(())
    }

    /// Draws the vertical marker lines across the plotting `area`; returns, for each, its
    /// pixel abscissa, its colour and its label.
    fn marker_lines<'m, DB: DrawingBackend>(
        &'m self,
        area: &DrawingArea<DB, Shift>,
        to_px: &dyn Fn((f64, f64)) -> Px,
    ) -> Result<Vec<VLine<'m>>, PlotError> {
        let (_, h) = area.dim_in_pixel();
        let y = data::y_range(self.panel).0;
        let mut out = Vec::new();
        for m in data::markers(self.panel) {
            let rgb = m
                .series
                .as_deref()
                .filter(|label| self.labels.contains(label))
                .map_or(look::MARKER_GREY, |label| {
                    look::look_of(self.labels, label).rgb
                });
            let x = to_px((m.x, y)).0;
            let thin = Look {
                rgb,
                pattern: Pattern::Solid,
                width: 2,
                shape: Shape::Circle,
            };
            stroke(area, &[(x, 0.0), (x, f64::from(h))], &thin, self.s)?;
            out.push(VLine {
                x,
                rgb,
                label: &m.label,
            });
        }
        Ok(out)
    }

    /// Writes the labels of the vertical `markers` near the top of the plotting `area`, each
    /// beside its line (right of it, or left near the right edge), staggered in rows so that
    /// close markers' labels do not overlap.
    fn marker_labels<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        markers: &[VLine<'_>],
    ) -> Result<(), PlotError> {
        let s = self.s;
        let (w, h) = area.dim_in_pixel();
        let (w, h) = (f64::from(w), f64::from(h));
        let gap = f64::from(px(s, 5.0));
        let pad = f64::from(px(s, 3.0));
        let style = font(s, MARKER_FONT, BLACK);
        let mut spans = Vec::with_capacity(markers.len());
        let mut heights = Vec::with_capacity(markers.len());
        for &VLine { x, label, .. } in markers {
            let (tw, th) = area.estimate_text_size(label, &style).map_err(de)?;
            let tw = f64::from(tw).min(w);
            let left = if x + gap + tw + pad <= w {
                x + gap
            } else {
                (x - gap - tw).max(0.0)
            };
            spans.push((left - pad, left + tw + pad));
            heights.push(f64::from(th));
        }
        let row_h = f64::from(px(s, MARKER_FONT + 9.0));
        // Labels stay in the upper half of the plot; past that they share rows.
        let max_rows = (h / 2.0 / row_h).floor().max(1.0) as usize;
        let rows = geom::stagger(&spans, gap, max_rows);
        for (i, &VLine { rgb, label, .. }) in markers.iter().enumerate() {
            if label.is_empty() {
                continue;
            }
            let (left, right) = spans[i];
            let top = pad + rows[i] as f64 * row_h;
            let bottom = top + heights[i] + 2.0 * pad;
            let corner = |x: f64, y: f64| (x.round() as i32, y.round() as i32);
            let rect = Rectangle::new(
                [corner(left, top), corner(right, bottom)],
                WHITE.mix(0.85).filled(),
            );
            area.draw(&rect).map_err(de)?;
            let dark = RGBColor(dim(rgb.0), dim(rgb.1), dim(rgb.2));
            let text = Text::new(
                label,
                corner(left + pad, top + pad),
                font(s, MARKER_FONT, dark),
            );
            area.draw(&text).map_err(de)?;
        }
        Ok(())
    }

    /// Writes `label` on a light box just above (or, near the top, below) the reference
    /// line, ending at `right` (pixels relative to `area`, `top` being the plot's top row).
    fn annotate<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        label: &str,
        (right, line_y): (i32, i32),
        top: i32,
    ) -> Result<(), PlotError> {
        if label.is_empty() {
            return Ok(());
        }
        let s = self.s;
        let style = font(s, 15.0, RGBColor(30, 30, 30));
        let (tw, th) = area.estimate_text_size(label, &style).map_err(de)?;
        // A label wider than the canvas is cut anyway; bounding it keeps the sums small.
        let (aw, ah) = area.dim_in_pixel();
        let (tw, th, p) = (px_i(tw.min(aw)), px_i(th.min(ah)), px_i(px(s, 4.0)));
        let box_h = th + 2 * p;
        let above = line_y - 2 * p - box_h >= top;
        let box_top = if above {
            line_y - p - box_h
        } else {
            line_y + p + px_i(px(s, 2.0))
        };
        let box_left = right - px_i(px(s, 8.0)) - tw - 2 * p;
        let rect = Rectangle::new(
            [
                (box_left, box_top),
                (box_left + tw + 2 * p, box_top + box_h),
            ],
            WHITE.mix(0.85).filled(),
        );
        area.draw(&rect).map_err(de)?;
        area.draw(&Text::new(label, (box_left + p, box_top + p), style))
            .map_err(de)
    }
}

/// A colour channel darkened so that text in a light series colour reads on white.
fn dim(c: u8) -> u8 {
    (u16::from(c) * 3 / 4) as u8
}
