//! Drawing a [`Figure`] on any plotters backend: title, stacked panels, legends.
//!
//! Sizes are given in pixels for a 1200 × 900 canvas and scaled with the canvas, so the
//! figure keeps its proportions (and stays readable) at other sizes.

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use crate::data::{self, LineLook, Pattern};
use crate::{Figure, Panel, PlotError};

/// The family the embedded font is registered under (and named in SVG output).
const FAMILY: &str = "sans-serif";

/// DejaVu Sans (Bitstream Vera licence, see `assets/DejaVu-LICENSE.txt`).
static DEJAVU_SANS: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Registers the embedded font with plotters, once per process.
fn ensure_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok =
        *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok());
    if ok { Ok(()) } else { Err(PlotError::Font) }
}

/// Turns any plotters error into a [`PlotError`].
fn de(e: impl std::fmt::Display) -> PlotError {
    PlotError::Draw(e.to_string())
}

/// The scale of a canvas relative to 1200 × 900, bounded so text stays legible.
fn scale(width: u32, height: u32) -> f64 {
    (f64::from(width) / 1200.0)
        .min(f64::from(height) / 900.0)
        .clamp(0.5, 3.0)
}

/// `v` reference pixels at scale `s`, at least one pixel.
fn px(s: f64, v: f64) -> u32 {
    ((v * s).round() as u32).max(1)
}

/// The font at `size` reference pixels, scale `s`, in `color`.
fn font(s: f64, size: f64, color: RGBColor) -> TextStyle<'static> {
    let mut style = TextStyle::from((FAMILY, size * s).into_font());
    style.color = color.to_backend_color();
    style
}

/// Height of the figure title band (zero without a title).
fn title_height(fig: &Figure, s: f64) -> u32 {
    if fig.title.is_empty() { 0 } else { px(s, 50.0) }
}

/// Height of the band under a plot holding tick labels and the x-axis label.
fn x_area(s: f64) -> u32 {
    px(s, 54.0)
}

/// Width of the band left of a plot holding tick labels and the y-axis label.
fn y_area(s: f64) -> u32 {
    px(s, 78.0)
}

/// Height of a panel caption band, including its margin.
fn caption_height(s: f64) -> u32 {
    px(s, 36.0)
}

/// The least height a panel needs: caption, axis band and a 40 px plot.
fn panel_min_height(s: f64) -> u32 {
    caption_height(s) + x_area(s) + px(s, 10.0) + 40
}

/// Whether every panel of `fig` gets at least [`panel_min_height`] on this canvas.
pub(crate) fn fits(fig: &Figure, width: u32, height: u32) -> bool {
    let s = scale(width, height);
    let rows = u32::try_from(fig.panels.len().max(1)).unwrap_or(u32::MAX);
    height.saturating_sub(title_height(fig, s)) / rows >= panel_min_height(s)
}

/// The plotters stroke style of a line look at scale `s`.
fn shape(look: &LineLook, s: f64) -> ShapeStyle {
    let (r, g, b) = look.rgb;
    ShapeStyle {
        color: RGBColor(r, g, b).to_rgba(),
        filled: false,
        stroke_width: px(s, f64::from(look.width)),
    }
}

/// The look of the reference line.
fn hline_look() -> LineLook {
    LineLook {
        rgb: data::HLINE_RGB,
        pattern: Pattern::Dashed(10, 6),
        width: 2,
    }
}

/// One legend row: the line sample's look and the text.
struct Entry<'a> {
    look: LineLook,
    text: &'a str,
}

/// The legend rows of `panel`: each distinct series label, then the reference line.
fn entries<'a>(panel: &'a Panel, labels: &[&str]) -> Vec<Entry<'a>> {
    let mut out: Vec<Entry<'a>> = Vec::new();
    for series in &panel.series {
        if out.iter().any(|e| e.text == series.label) {
            continue;
        }
        let index = labels.iter().position(|l| *l == series.label).unwrap_or(0);
        out.push(Entry {
            look: data::look(index),
            text: &series.label,
        });
    }
    if let Some((_, text)) = data::hline(panel) {
        out.push(Entry {
            look: hline_look(),
            text,
        });
    }
    out
}

/// Legend text size in reference pixels.
const LEGEND_FONT: f64 = 16.0;
/// Length of a legend line sample in reference pixels.
const SAMPLE: f64 = 44.0;

/// The width of the legend column shared by all panels, so their plots line up.
fn legend_width<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &Figure,
    s: f64,
) -> Result<u32, PlotError> {
    let style = font(s, LEGEND_FONT, BLACK);
    let labels = data::label_order(fig);
    let mut text_w = 0;
    for panel in &fig.panels {
        for entry in entries(panel, &labels) {
            text_w = text_w.max(root.estimate_text_size(entry.text, &style).map_err(de)?.0);
        }
    }
    let width = root.dim_in_pixel().0;
    let wanted = text_w.saturating_add(px(s, 12.0 + SAMPLE + 10.0 + 14.0 + 10.0));
    Ok(wanted.min(width * 35 / 100).max(px(s, 120.0)))
}

/// Draws `fig` on `root`, which must be at least [`crate::MIN_WIDTH`] wide and pass [`fits`].
pub(crate) fn figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &Figure,
) -> Result<(), PlotError> {
    ensure_font()?;
    root.fill(&WHITE).map_err(de)?;
    let (width, height) = root.dim_in_pixel();
    let s = scale(width, height);
    let (top, body) = root.split_vertically(title_height(fig, s));
    if !fig.title.is_empty() {
        let (tw, th) = top.dim_in_pixel();
        let style = font(s, 28.0, BLACK).pos(Pos::new(HPos::Center, VPos::Center));
        let at = (
            i32::try_from(tw / 2).unwrap_or(0),
            i32::try_from(th / 2).unwrap_or(0),
        );
        top.draw(&Text::new(fig.title.as_str(), at, style))
            .map_err(de)?;
    }
    if fig.panels.is_empty() {
        let (bw, bh) = body.dim_in_pixel();
        let style =
            font(s, 18.0, RGBColor(110, 110, 110)).pos(Pos::new(HPos::Center, VPos::Center));
        let at = (
            i32::try_from(bw / 2).unwrap_or(0),
            i32::try_from(bh / 2).unwrap_or(0),
        );
        body.draw(&Text::new("no panels", at, style)).map_err(de)?;
        return Ok(());
    }
    let labels = data::label_order(fig);
    let legend_w = legend_width(root, fig, s)?;
    let x = data::x_range(fig);
    let areas = body.split_evenly((fig.panels.len(), 1));
    for (area, panel) in areas.iter().zip(&fig.panels) {
        let ctx = PanelCtx {
            fig,
            panel,
            labels: &labels,
            x,
            s,
        };
        ctx.draw(area, legend_w)?;
    }
    Ok(())
}

/// What drawing one panel needs.
struct PanelCtx<'a> {
    fig: &'a Figure,
    panel: &'a Panel,
    labels: &'a [&'a str],
    x: (f64, f64),
    s: f64,
}

impl PanelCtx<'_> {
    /// Draws the panel in `area`, its legend in the rightmost `legend_w` pixels.
    fn draw<DB: DrawingBackend>(
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
        let (x0, x1) = self.x;
        let (y0, y1) = data::y_range(self.panel);
        // The plot's top edge, relative to `area`, places the legend level with it.
        let plot_top = if self.panel.y_log {
            let mut chart = builder
                .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
                .map_err(de)?;
            self.plot(&mut chart, &plot_area)?
        } else {
            let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(de)?;
            self.plot(&mut chart, &plot_area)?
        };
        self.legend(&legend_area, plot_top - area.get_base_pixel().1)
    }

    /// Draws axes, reference line and series on `chart`; returns the plot's top pixel row.
    fn plot<DB, Y>(
        &self,
        chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, Y>>,
        plot_area: &DrawingArea<DB, Shift>,
    ) -> Result<i32, PlotError>
    where
        DB: DrawingBackend,
        Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let s = self.s;
        let fmt = |v: &f64| data::tick(*v);
        chart
            .configure_mesh()
            .x_desc(self.fig.x_label.as_str())
            .y_desc(self.panel.y_label.as_str())
            .x_labels(10)
            .y_labels(8)
            .x_label_formatter(&fmt)
            .y_label_formatter(&fmt)
            .label_style(font(s, 15.0, BLACK))
            .axis_desc_style(font(s, 18.0, BLACK))
            .bold_line_style(RGBColor(215, 215, 215))
            .light_line_style(RGBColor(244, 244, 244))
            .x_max_light_lines(2)
            .y_max_light_lines(2)
            .axis_style(RGBColor(60, 60, 60))
            .draw()
            .map_err(de)?;

        let hline = data::hline(self.panel);
        if let Some((v, _)) = hline {
            let style = shape(&hline_look(), s);
            let (d, g) = (px(s, 10.0), px(s, 6.0));
            let line = DashedLineSeries::new(vec![(self.x.0, v), (self.x.1, v)], d, g, style);
            chart.draw_series(line).map_err(de)?;
        }

        let floor = data::log_floor(self.panel);
        let mut drawn = 0usize;
        for series in &self.panel.series {
            let index = self
                .labels
                .iter()
                .position(|l| *l == series.label)
                .unwrap_or(0);
            let look = data::look(index);
            let style = shape(&look, s);
            for seg in data::segments(&series.points, floor) {
                drawn += seg.len();
                if let [p] = seg[..] {
                    let dot = Circle::new(p, px(s, 4.0), style.filled());
                    chart.draw_series(std::iter::once(dot)).map_err(de)?;
                    continue;
                }
                match look.pattern {
                    Pattern::Solid => {
                        chart.draw_series(LineSeries::new(seg, style)).map_err(de)?;
                    }
                    Pattern::Dashed(d, g) => {
                        let (d, g) = (px(s, f64::from(d)), px(s, f64::from(g)));
                        chart
                            .draw_series(DashedLineSeries::new(seg, d, g, style))
                            .map_err(de)?;
                    }
                }
            }
        }

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

    /// Draws the legend box in `area`, its top `top` pixels below the area's top.
    fn legend<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        top: i32,
    ) -> Result<(), PlotError> {
        let rows = entries(self.panel, self.labels);
        if rows.is_empty() {
            return Ok(());
        }
        let s = self.s;
        let (w, h) = area.dim_in_pixel();
        let row_h = px_i(px(s, 28.0));
        let pad = px_i(px(s, 8.0));
        let left = px_i(px(s, 4.0));
        let right = px_i(w) - px_i(px(s, 6.0));
        // Rows past the bottom of the panel would not show: stop there.
        let fit = usize::try_from((px_i(h) - top - 2 * pad).max(row_h) / row_h).unwrap_or(1);
        let rows = &rows[..rows.len().min(fit)];
        let bottom = top + 2 * pad + px_i(u32::try_from(rows.len()).unwrap_or(1)) * row_h;
        let frame = [(left, top), (right, bottom)];
        area.draw(&Rectangle::new(frame, WHITE.filled()))
            .map_err(de)?;
        area.draw(&Rectangle::new(
            frame,
            RGBColor(170, 170, 170).stroke_width(1),
        ))
        .map_err(de)?;
        let text_style = font(s, LEGEND_FONT, BLACK).pos(Pos::new(HPos::Left, VPos::Center));
        let sample = px_i(px(s, SAMPLE));
        let x0 = left + pad;
        for (i, entry) in rows.iter().enumerate() {
            let y = top + pad + row_h * px_i(u32::try_from(i).unwrap_or(0)) + row_h / 2;
            let style = shape(&entry.look, s);
            let ends = vec![(x0, y), (x0 + sample, y)];
            match entry.look.pattern {
                Pattern::Solid => area.draw(&PathElement::new(ends, style)).map_err(de)?,
                Pattern::Dashed(d, g) => {
                    let (d, g) = (px(s, f64::from(d)), px(s, f64::from(g)));
                    area.draw(&DashedPathElement::new(ends, d, g, style))
                        .map_err(de)?;
                }
            }
            let at = (x0 + sample + px_i(px(s, 10.0)), y);
            area.draw(&Text::new(entry.text, at, text_style.clone()))
                .map_err(de)?;
        }
        Ok(())
    }
}

/// A pixel count as a signed coordinate.
fn px_i(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}
