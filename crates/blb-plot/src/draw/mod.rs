//! Drawing a [`Figure`] on any plotters backend: title, stacked panels, legends.
//!
//! Sizes are given in pixels for a 1200 × 900 canvas and scaled with the canvas, so the
//! figure keeps its proportions (and stays readable) at other sizes.

mod axis;
mod legend;
mod panel;
mod shapes;

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};

use crate::{Figure, PlotError, data, look};

/// The family the embedded font is registered under (and named in SVG output).
const FAMILY: &str = "sans-serif";

/// DejaVu Sans (Bitstream Vera licence, see `assets/DejaVu-LICENSE.txt`).
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

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

/// A pixel count as a signed coordinate.
fn px_i(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// An RGB triple as a plotters colour.
fn rgb((r, g, b): (u8, u8, u8)) -> RGBColor {
    RGBColor(r, g, b)
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
    let labels = look::label_order(fig);
    let legend_w = legend::width(root, fig, s)?;
    let shared = data::x_range(fig);
    let areas = body.split_evenly((fig.panels.len(), 1));
    for (area, panel) in areas.iter().zip(&fig.panels) {
        let x = if data::own_x_axis(panel) {
            data::own_x_range(panel)
        } else {
            shared
        };
        let ctx = panel::PanelCtx {
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
