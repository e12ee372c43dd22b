//! blb-plot: the figure of `blb experiment`, drawn as PNG or SVG.
//!
//! A [`Figure`] is a title, an x-axis label and [`Panel`]s stacked vertically that share one
//! x range (seconds). Each panel has its own y axis, a legend to the right of its plot (so it
//! never covers data), its [`Series`] as lines or as point markers ([`Style`]) and an optional
//! dashed, labelled horizontal reference line — the CUSUM threshold `th_y` or the variance
//! bound `V` of Le, Al-Shaer & Boutaba (2008). A series label keeps its colour, line style
//! and marker shape in every panel, so series stay apart in black-and-white print too.
//!
//! A panel can also have its own x axis ([`Panel::x_label`]), named categories instead of
//! numbers on the x axis ([`Panel::x_categories`], for a strip plot of values per algorithm)
//! and labelled vertical lines at given abscissas ([`Panel::markers`], [`Marker`]).
//!
//! Text is drawn with DejaVu Sans, which is embedded in the crate: nothing is read from the
//! system at build or run time. Any input draws: empty panels, NaN or infinite values (they
//! leave gaps), single points and all-zero series give a valid, labelled figure.
//!
//! ```no_run
//! use blb_plot::{Figure, Marker, Panel, Series};
//! let fig = Figure {
//!     title: "CUSUM statistic".into(),
//!     x_label: "time (s)".into(),
//!     panels: vec![
//!         Panel {
//!             title: "Y_n over time".into(),
//!             y_label: "max Y_n".into(),
//!             series: vec![Series::new("blb", vec![(0.0, 0.0), (1.0, 3.5)])],
//!             hline: Some((20.0, "threshold th_y = 20".into())),
//!             markers: vec![Marker {
//!                 x: 0.5,
//!                 label: "alarm".into(),
//!                 series: Some("blb".into()),
//!             }],
//!             ..Default::default()
//!         },
//!         Panel {
//!             title: "seconds to detection".into(),
//!             y_label: "seconds".into(),
//!             series: vec![Series::points("blb", vec![(0.0, 4.0), (0.0, 5.5), (1.0, 9.0)])],
//!             x_label: Some("algorithm".into()),
//!             x_categories: vec!["blb".into(), "hash".into()],
//!             ..Default::default()
//!         },
//!     ],
//! };
//! blb_plot::render_png(&fig, "fig.png".as_ref(), 1200, 900)?;
//! # Ok::<(), blb_plot::PlotError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod data;
pub mod demo;
mod draw;
mod geom;
mod look;

use std::path::{Path, PathBuf};

use plotters::prelude::{BitMapBackend, IntoDrawingArea, SVGBackend};

/// The smallest width, in pixels, that a figure can be rendered at.
pub const MIN_WIDTH: u32 = 320;
/// The smallest height, in pixels, that a figure can be rendered at.
pub const MIN_HEIGHT: u32 = 240;
/// The largest width or height, in pixels, that a figure can be rendered at.
pub const MAX_SIDE: u32 = 10_000;

/// How a [`Series`] is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Style {
    /// A line through the points, with a small marker now and then so that overlapping
    /// lines stay visible; non-finite points leave a gap.
    #[default]
    Line,
    /// A filled marker at each finite point and no connecting line.
    Points,
}

/// One line (or set of points) of a panel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// The legend entry; series with the same label look the same in every panel.
    pub label: String,
    /// `(x, value)` points in drawing order; non-finite points leave a gap (or no marker).
    pub points: Vec<(f64, f64)>,
    /// Line or markers.
    pub style: Style,
}

impl Series {
    /// A series called `label`, drawn as a line through `points`.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.into(),
            points,
            style: Style::Line,
        }
    }

    /// A series called `label`, drawn as a marker at each of `points` without a line.
    pub fn points(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.into(),
            points,
            style: Style::Points,
        }
    }
}

/// A labelled thin vertical line across a panel's plot, for an event at abscissa `x`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Marker {
    /// Where the line is; a non-finite value leaves the marker out.
    pub x: f64,
    /// The text written near the top of the line (staggered when markers are close).
    pub label: String,
    /// The label of the series whose colour the line takes; grey when `None` or when no
    /// series of the figure has that label.
    pub series: Option<String>,
}

/// One plot of a figure, with its own y axis and legend.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Panel {
    /// The caption above the plot.
    pub title: String,
    /// The y-axis label.
    pub y_label: String,
    /// The lines and point sets.
    pub series: Vec<Series>,
    /// A dashed horizontal reference line at the value, labelled with the text.
    pub hline: Option<(f64, String)>,
    /// Logarithmic y axis: values `<= 0` are then left out (as gaps).
    pub y_log: bool,
    /// `Some`: this panel has its own x axis, labelled with the text, whose range covers
    /// only this panel's points and markers. `None` (the default): the panel shares the
    /// figure's x range and x label with the other `None` panels.
    pub x_label: Option<String>,
    /// Labelled vertical lines, included in the x range so that they show.
    pub markers: Vec<Marker>,
    /// When not empty, x values are category positions `0, 1, 2, …` and the x ticks show
    /// these names instead of numbers. Such a panel always has its own x range (from
    /// `-0.5` to `len - 0.5`, widened to any points or markers outside); its x label is
    /// [`Panel::x_label`], or the figure's when that is `None`.
    pub x_categories: Vec<String>,
}

/// A figure: panels stacked vertically, sharing the x range unless they have their own.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figure {
    /// The title above all panels.
    pub title: String,
    /// The x-axis label, shown under every panel whose [`Panel::x_label`] is `None`.
    pub x_label: String,
    /// The panels, top to bottom.
    pub panels: Vec<Panel>,
}

/// Why a figure could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The requested size is out of bounds or too small for the number of panels.
    #[error("cannot draw {panels} panel(s) on {width}x{height} px: {reason}")]
    InvalidSize {
        /// Requested width in pixels.
        width: u32,
        /// Requested height in pixels.
        height: u32,
        /// Number of panels of the figure.
        panels: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The embedded font could not be loaded (a build problem, not an input problem).
    #[error("the embedded font could not be registered")]
    Font,
    /// The plotting library failed while drawing.
    #[error("drawing failed: {0}")]
    Draw(String),
    /// The PNG encoder failed.
    #[error("cannot write PNG {}: {message}", path.display())]
    Png {
        /// The output path.
        path: PathBuf,
        /// The encoder's message.
        message: String,
    },
    /// The output file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The output path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Checks that `fig` fits on a `width` × `height` canvas.
fn check_size(fig: &Figure, width: u32, height: u32) -> Result<(), PlotError> {
    let err = |reason| PlotError::InvalidSize {
        width,
        height,
        panels: fig.panels.len(),
        reason,
    };
    if width < MIN_WIDTH || height < MIN_HEIGHT {
        return Err(err("below the minimum of 320x240"));
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(err("a side is above the maximum of 10000"));
    }
    if !draw::fits(fig, width, height) {
        return Err(err("too many panels for the height"));
    }
    Ok(())
}

/// Renders `fig` as a `width` × `height` PNG file at `path` (whatever its extension).
pub fn render_png(fig: &Figure, path: &Path, width: u32, height: u32) -> Result<(), PlotError> {
    check_size(fig, width, height)?;
    // Both sides are checked to be at most MAX_SIDE, so this cannot overflow.
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        draw::figure(&root, fig)?;
        root.present().map_err(|e| PlotError::Draw(e.to_string()))?;
    }
    image::save_buffer_with_format(
        path,
        &rgb,
        width,
        height,
        image::ColorType::Rgb8,
        image::ImageFormat::Png,
    )
    .map_err(|e| match e {
        image::ImageError::IoError(source) => PlotError::Io {
            path: path.to_owned(),
            source,
        },
        other => PlotError::Png {
            path: path.to_owned(),
            message: other.to_string(),
        },
    })
}

/// Renders `fig` as a `width` × `height` SVG file at `path`.
///
/// Text stays text (`<text>` elements in the `sans-serif` family), so labels are searchable.
pub fn render_svg(fig: &Figure, path: &Path, width: u32, height: u32) -> Result<(), PlotError> {
    let svg = svg_string(fig, width, height)?;
    std::fs::write(path, svg).map_err(|source| PlotError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Renders `fig` as the text of a `width` × `height` SVG document.
pub fn svg_string(fig: &Figure, width: u32, height: u32) -> Result<String, PlotError> {
    check_size(fig, width, height)?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        draw::figure(&root, fig)?;
        root.present().map_err(|e| PlotError::Draw(e.to_string()))?;
    }
    Ok(svg)
}
