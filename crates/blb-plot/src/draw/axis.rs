//! The x axis of a panel: plotters' linear `f64` axis, or the same axis with one tick per
//! category at the integer positions.

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;

use crate::data;

/// A linear x axis whose ticks are either chosen by plotters or fixed category positions.
pub(super) struct XAxis {
    /// The linear mapping.
    inner: RangedCoordf64,
    /// Fixed tick positions (categories), or `None` for plotters' numeric ticks.
    ticks: Option<Vec<f64>>,
}

impl XAxis {
    /// A numeric axis over `lo..hi`.
    pub(super) fn numeric((lo, hi): (f64, f64)) -> Self {
        Self {
            inner: (lo..hi).into(),
            ticks: None,
        }
    }

    /// An axis over `lo..hi` with ticks (and grid lines) at `ticks` only.
    pub(super) fn categories((lo, hi): (f64, f64), ticks: Vec<f64>) -> Self {
        Self {
            inner: (lo..hi).into(),
            ticks: Some(ticks),
        }
    }
}

impl Ranged for XAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        match &self.ticks {
            // Category axes have no light grid lines between the categories.
            Some(_) if hint.weight().allow_light_points() => Vec::new(),
            Some(ticks) => ticks.clone(),
            None => self.inner.key_points(hint),
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

impl ValueFormatter<f64> for XAxis {
    fn format(value: &f64) -> String {
        data::tick(*value)
    }
}
