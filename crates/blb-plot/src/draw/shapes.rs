//! Strokes and markers drawn in pixel coordinates on a [`Shift`] drawing area: the plot's
//! lines, the point markers and the legend samples all go through here, so that a series
//! looks the same in the plot and in its legend.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{de, px, rgb};
use crate::PlotError;
use crate::geom::{self, Px};
use crate::look::{Look, Pattern, Shape};

/// A pixel position rounded to the backend's integer grid.
fn at((x, y): Px) -> (i32, i32) {
    (x.round() as i32, y.round() as i32)
}

/// Draws the polyline `path` (pixels relative to `area`) in the colour, pattern and width
/// of `look` at scale `s`.
pub(super) fn stroke<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    path: &[Px],
    look: &Look,
    s: f64,
) -> Result<(), PlotError> {
    let style = ShapeStyle {
        color: rgb(look.rgb).to_rgba(),
        filled: false,
        stroke_width: px(s, f64::from(look.width)),
    };
    let pieces = match look.pattern {
        Pattern::Solid if path.len() > 1 => vec![path.to_vec()],
        Pattern::Solid => Vec::new(),
        Pattern::Dashes(lengths) => {
            let lengths: Vec<f64> = lengths
                .iter()
                .map(|&v| (f64::from(v) * s).max(1.0))
                .collect();
            geom::dashes(path, &lengths)
        }
    };
    for piece in pieces {
        let points: Vec<(i32, i32)> = piece.into_iter().map(at).collect();
        area.draw(&PathElement::new(points, style)).map_err(de)?;
    }
    Ok(())
}

/// Draws a filled `shape` of radius about `r` pixels centred on `c` (relative to `area`).
///
/// The shapes are sized to look about equally heavy: a square is a bit smaller than the
/// circle around it, triangles and diamonds a bit larger.
pub(super) fn marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    shape: Shape,
    c: Px,
    r: f64,
    color: RGBAColor,
) -> Result<(), PlotError> {
    let fill = ShapeStyle {
        color,
        filled: true,
        stroke_width: 1,
    };
    let (x, y) = c;
    let polygon = |corners: &[(f64, f64)]| {
        let points: Vec<(i32, i32)> = corners
            .iter()
            .map(|&(dx, dy)| at((x + dx * r, y + dy * r)))
            .collect();
        Polygon::new(points, fill)
    };
    match shape {
        Shape::Circle => {
            let radius = r.round().max(1.0) as i32;
            area.draw(&Circle::new(at(c), radius, fill)).map_err(de)
        }
        Shape::Square => {
            let h = 0.88 * r;
            let rect = Rectangle::new([at((x - h, y - h)), at((x + h, y + h))], fill);
            area.draw(&rect).map_err(de)
        }
        Shape::TriangleUp => area
            .draw(&polygon(&[(0.0, -1.3), (1.15, 0.75), (-1.15, 0.75)]))
            .map_err(de),
        Shape::TriangleDown => area
            .draw(&polygon(&[(0.0, 1.3), (1.15, -0.75), (-1.15, -0.75)]))
            .map_err(de),
        Shape::Diamond => area
            .draw(&polygon(&[
                (0.0, -1.3),
                (1.05, 0.0),
                (0.0, 1.3),
                (-1.05, 0.0),
            ]))
            .map_err(de),
        Shape::Cross => {
            let style = ShapeStyle {
                color,
                filled: false,
                stroke_width: (0.6 * r).round().max(2.0) as u32,
            };
            let h = 0.95 * r;
            for (dx, dy) in [(h, h), (h, -h)] {
                let line =
                    PathElement::new(vec![at((x - dx, y - dy)), at((x + dx, y + dy))], style);
                area.draw(&line).map_err(de)?;
            }
            Ok(())
        }
    }
}

/// The colour of a series marker: its look's colour, a little see-through for point sets
/// so that piled-up points show.
pub(super) fn marker_color(look: &Look, see_through: bool) -> RGBAColor {
    let color = rgb(look.rgb);
    if see_through {
        color.mix(0.8)
    } else {
        color.to_rgba()
    }
}
