//! The legend right of each plot: one row per series label, then the reference line.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::shapes::{marker, marker_color, stroke};
use super::{de, font, px, px_i};
use crate::look::{self, Look};
use crate::{Figure, Panel, PlotError, Style, data};

/// Legend text size in reference pixels.
const LEGEND_FONT: f64 = 16.0;
/// Length of a legend line sample in reference pixels.
const SAMPLE: f64 = 44.0;
/// Radius of the markers on lines, in reference pixels.
pub(super) const LINE_MARK: f64 = 4.0;
/// Radius of the markers of point sets, in reference pixels.
pub(super) const POINT_MARK: f64 = 5.0;

/// One legend row: how the sample is drawn and the text.
struct Entry<'a> {
    look: Look,
    /// A line sample (series lines and the reference line).
    line: bool,
    /// How the sample's marker is drawn, if it has one.
    style: Option<Style>,
    text: &'a str,
}

/// The legend rows of `panel`: each distinct series label, then the reference line.
fn entries<'a>(panel: &'a Panel, labels: &[&str]) -> Vec<Entry<'a>> {
    let mut out: Vec<Entry<'a>> = Vec::new();
    for series in &panel.series {
        if out.iter().any(|e| e.text == series.label) {
            continue;
        }
        out.push(Entry {
            look: look::look_of(labels, &series.label),
            line: series.style == Style::Line,
            style: Some(series.style),
            text: &series.label,
        });
    }
    if let Some((_, text)) = data::hline(panel) {
        out.push(Entry {
            look: look::HLINE,
            line: true,
            style: None,
            text,
        });
    }
    out
}

/// The width of the legend column shared by all panels, so their plots line up.
pub(super) fn width<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &Figure,
    s: f64,
) -> Result<u32, PlotError> {
    let style = font(s, LEGEND_FONT, BLACK);
    let labels = look::label_order(fig);
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

/// Draws the legend box of `panel` in `area`, its top `top` pixels below the area's top.
pub(super) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    labels: &[&str],
    s: f64,
    top: i32,
) -> Result<(), PlotError> {
    let rows = entries(panel, labels);
    if rows.is_empty() {
        return Ok(());
    }
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
    let sample = f64::from(px(s, SAMPLE));
    let x0 = f64::from(left + pad);
    for (i, entry) in rows.iter().enumerate() {
        let y = top + pad + row_h * px_i(u32::try_from(i).unwrap_or(0)) + row_h / 2;
        let yf = f64::from(y);
        if entry.line {
            stroke(area, &[(x0, yf), (x0 + sample, yf)], &entry.look, s)?;
        }
        if let Some(style) = entry.style {
            let (r, see_through) = match style {
                Style::Line => (LINE_MARK, false),
                Style::Points => (POINT_MARK, true),
            };
            let color = marker_color(&entry.look, see_through);
            let c = (x0 + sample / 2.0, yf);
            marker(area, entry.look.shape, c, r * s, color)?;
        }
        let at = (px_i(px(s, SAMPLE)) + left + pad + px_i(px(s, 10.0)), y);
        area.draw(&Text::new(entry.text, at, text_style.clone()))
            .map_err(de)?;
    }
    Ok(())
}
