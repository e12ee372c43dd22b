//! The look of each series label: colour, stroke pattern, width and marker shape.
//!
//! Colours, patterns and shapes are chosen so that series stay apart on screen, for readers
//! with a colour-vision deficiency and in black-and-white print: the first six labels all
//! differ in stroke pattern or width and in marker shape, not only in colour.

use crate::Figure;

/// How a line is stroked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// A continuous line.
    Solid,
    /// Alternating dash and gap lengths (dash, gap, dash, gap, …) in pixels at the
    /// reference size; an even number of positive lengths.
    Dashes(&'static [u32]),
}

/// The marker drawn at the points of a series (and now and then along a line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A filled disc.
    Circle,
    /// A filled square.
    Square,
    /// A filled triangle pointing up.
    TriangleUp,
    /// A filled square standing on a corner.
    Diamond,
    /// A filled triangle pointing down.
    TriangleDown,
    /// A thick ×.
    Cross,
}

/// The look of one series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Look {
    /// Red, green, blue.
    pub(crate) rgb: (u8, u8, u8),
    /// Stroke pattern of a line.
    pub(crate) pattern: Pattern,
    /// Stroke width in pixels at the reference size.
    pub(crate) width: u32,
    /// Marker shape.
    pub(crate) shape: Shape,
}

/// Colour-blind-safe colours (Okabe & Ito), dark enough to read on white.
const PALETTE: [(u8, u8, u8); 7] = [
    (0, 114, 178),   // blue
    (213, 94, 0),    // vermillion
    (0, 158, 115),   // bluish green
    (204, 121, 167), // reddish purple
    (230, 159, 0),   // orange
    (86, 180, 233),  // sky blue
    (128, 64, 0),    // brown
];

/// Stroke patterns and widths: solid, dashed, dotted, dash-dot, long thin dashes and
/// dash-dot-dot, cycled independently of the colours.
const PATTERNS: [(Pattern, u32); 6] = [
    (Pattern::Solid, 3),
    (Pattern::Dashes(&[14, 7]), 3),
    (Pattern::Dashes(&[3, 5]), 4),
    (Pattern::Dashes(&[18, 5, 4, 5]), 3),
    (Pattern::Dashes(&[26, 6]), 2),
    (Pattern::Dashes(&[12, 4, 3, 4, 3, 4]), 3),
];

/// Marker shapes, in the same cycle as the patterns.
const SHAPES: [Shape; 6] = [
    Shape::Circle,
    Shape::Square,
    Shape::TriangleUp,
    Shape::Diamond,
    Shape::TriangleDown,
    Shape::Cross,
];

/// The colour of the dashed reference line.
pub(crate) const HLINE_RGB: (u8, u8, u8) = (40, 40, 40);

/// The colour of a vertical marker line that belongs to no series.
pub(crate) const MARKER_GREY: (u8, u8, u8) = (110, 110, 110);

/// The look of the horizontal reference line (its shape is never drawn).
pub(crate) const HLINE: Look = Look {
    rgb: HLINE_RGB,
    pattern: Pattern::Dashes(&[10, 6]),
    width: 2,
    shape: Shape::Circle,
};

/// The look of the `index`-th distinct label of a figure.
///
/// Colours (7) and patterns with shapes (6) have co-prime cycle lengths, so the first 42
/// labels all differ, and the first 6 differ in pattern or width and in shape.
pub(crate) fn look(index: usize) -> Look {
    let (pattern, width) = PATTERNS[index % PATTERNS.len()];
    Look {
        rgb: PALETTE[index % PALETTE.len()],
        pattern,
        width,
        shape: SHAPES[index % SHAPES.len()],
    }
}

/// The distinct series labels of `fig` in order of first appearance: the index of a label
/// here picks its [`look`], so a label looks the same in every panel.
pub(crate) fn label_order(fig: &Figure) -> Vec<&str> {
    let mut labels: Vec<&str> = Vec::new();
    for series in fig.panels.iter().flat_map(|p| &p.series) {
        if !labels.contains(&series.label.as_str()) {
            labels.push(&series.label);
        }
    }
    labels
}

/// The look of the series labelled `label`, given the figure's [`label_order`].
pub(crate) fn look_of(labels: &[&str], label: &str) -> Look {
    look(labels.iter().position(|l| *l == label).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Panel, Series};

    #[test]
    fn same_label_same_look() {
        let fig = Figure {
            panels: vec![
                Panel {
                    series: vec![Series::new("a", vec![]), Series::new("b", vec![])],
                    ..Panel::default()
                },
                Panel {
                    series: vec![Series::points("b", vec![]), Series::new("c", vec![])],
                    ..Panel::default()
                },
            ],
            ..Figure::default()
        };
        let labels = label_order(&fig);
        assert_eq!(labels, vec!["a", "b", "c"]);
        assert_eq!(look_of(&labels, "c"), look(2));
        let looks: Vec<_> = (0..42).map(look).collect();
        for (i, a) in looks.iter().enumerate() {
            for b in &looks[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn first_looks_differ_beyond_colour() {
        let looks: Vec<_> = (0..6).map(look).collect();
        for (i, a) in looks.iter().enumerate() {
            for b in &looks[i + 1..] {
                assert_ne!((a.pattern, a.width), (b.pattern, b.width));
                assert_ne!(a.shape, b.shape);
            }
        }
        for (pattern, _) in PATTERNS {
            if let Pattern::Dashes(d) = pattern {
                assert!(!d.is_empty() && d.len().is_multiple_of(2) && d.iter().all(|&v| v > 0));
            }
        }
    }
}
