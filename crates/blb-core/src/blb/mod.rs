//! The Benefit-based Load Balancing algorithm (Listing 3): on-line clusters of correlated flows,
//! `solve_p` under a variance (or threshold) constraint, and a k-medoids start.
//!
//! Per new flow f: compute each sensor's predicted load of f (`L_f`); `solve_p` picks up to F
//! clusters (one per sensor) of greatest benefit among sensors that keep the constraint; if it
//! finds none, a new cluster with centroid f and weight 1 goes to the least-loaded sensor (after
//! deleting clusters lighter than th_w when there are more than m_max). Packets of a flow restart
//! its clusters' idle time. Modules: [`distance`] (logical distance), [`cluster`] (weights and
//! the cluster set), [`solve_p`] (constraints and Listing 2), [`index`] (the exact sub-linear
//! search), [`kmedoids`] (PAM for the start).

pub mod cluster;
pub mod distance;
pub mod index;
pub mod kmedoids;
pub mod solve_p;

mod balancer;

pub use balancer::{BlbBalancer, BlbCounters, START_SLICE, sample_evenly};
pub use cluster::{Cluster, ClusterSet, ClusterStats, WeightRule, Weights};
pub use distance::{Distance, DistanceConfig, FlowPoint};
pub use solve_p::{Constraint, Noise};

/// How the predicted load `L_f` of a new flow is obtained.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowLoad {
    /// The mean rate of the flows now live: the sum of the sensors' smoothed rates divided by
    /// the number of live flows.
    Mean,
    /// A fixed rate in bytes per second.
    Fixed(f64),
}

/// Which search `solve_p` uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SearchMode {
    /// Correlation-key indexes (production).
    Indexed,
    /// The literal scan of every cluster (reference).
    BruteForce,
}

/// Which BLB: the paper's, or the robust variant (the default). See `docs/robust-blb.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// The paper as written (read as NOTES.md reads it): the paper's weight update, any
    /// correlated cluster is a solution, the k-medoids start from the input's first flows.
    Paper,
    /// Robust BLB: weights that grow with a cluster's decayed mass, a join distance, and an
    /// on-line start.
    Robust,
}

impl Variant {
    /// The name as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Paper => "paper",
            Variant::Robust => "robust",
        }
    }
}

impl std::str::FromStr for Variant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "paper" => Ok(Variant::Paper),
            "robust" => Ok(Variant::Robust),
            other => Err(format!("'{other}' (expected robust or paper)")),
        }
    }
}

/// How BLB starts when no training capture is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Start {
    /// The paper's start: the input's first `train_flows` flows go to the least-loaded sensor
    /// while k-medoids (PAM) runs over them, in slices, then its medoids become the clusters.
    WarmUp,
    /// Clusters form on-line from the first flow; no flow waits for a start.
    Online,
}

/// Most flows the k-medoids start takes (its matrix is 8·n² bytes: 32 MB at this bound).
pub const MAX_TRAIN_FLOWS: usize = 2000;

/// Settings of the BLB balancer.
#[derive(Clone, Debug, PartialEq)]
pub struct BlbConfig {
    /// Paper or robust; decides the weight rule.
    pub variant: Variant,
    /// A flow joins a cluster only if its logical distance to the centroid is at most this
    /// (robust: 0.5, so a flow joins only where the preset's dominant field correlates; paper:
    /// 1, any correlation).
    pub join_distance: f64,
    /// Fraction of the bound kept free when planning: `solve_p` tests V·(1 − headroom) (or
    /// th_l·(1 − headroom)), so that the load estimate's error does not carry the measured
    /// per-second variance over V (robust: 0.03; paper: 0).
    pub headroom: f64,
    /// Plan on the loads measured each second: keep the bound for the per-second variance
    /// this many standard deviations of its sampling noise above the plan (robust: 2); `None`
    /// plans on the smoothed loads alone (the paper).
    pub noise_sigmas: Option<f64>,
    /// The logical distance.
    pub distance: DistanceConfig,
    /// Decay factor λ > 1 per second.
    pub lambda: f64,
    /// The load constraint: variance bound V (%²) or load threshold th_l (%).
    pub constraint: Constraint,
    /// Duplication F: most sensors one flow is sent to.
    pub duplication: usize,
    /// m_max: above this many clusters, clusters lighter than th_w are deleted.
    pub m_max: usize,
    /// th_w: weight below which clusters are deleted when there are more than m_max.
    pub th_w: f64,
    /// Hard cap on clusters (> m_max): the lightest go first, counted.
    pub cluster_cap: usize,
    /// A cluster's idle time restarts on a packet at most this often (seconds; 0 = every
    /// packet).
    pub refresh_interval: f64,
    /// How `L_f` is predicted.
    pub flow_load: FlowLoad,
    /// Flows the k-medoids start uses: sampled from a training capture, or the input's first
    /// flows under [`Start::WarmUp`] (0: no k-medoids start at all; at most
    /// [`MAX_TRAIN_FLOWS`]).
    pub train_flows: usize,
    /// How the balancer starts without a training capture.
    pub start: Start,
    /// Search used by `solve_p`.
    pub search: SearchMode,
}

impl Default for BlbConfig {
    fn default() -> Self {
        Self::robust()
    }
}

impl BlbConfig {
    /// The defaults of a variant.
    pub fn for_variant(variant: Variant) -> Self {
        match variant {
            Variant::Paper => Self::paper(),
            Variant::Robust => Self::robust(),
        }
    }

    /// Robust BLB with its defaults: the paper's defaults but for the weight rule, a join
    /// distance of 0.5, planning with headroom and noise, and an on-line start.
    pub fn robust() -> Self {
        BlbConfig {
            variant: Variant::Robust,
            join_distance: 0.5,
            headroom: 0.03,
            noise_sigmas: Some(2.0),
            start: Start::Online,
            ..Self::paper()
        }
    }

    /// The paper's BLB with the defaults that reproduce the README's figures.
    pub fn paper() -> Self {
        BlbConfig {
            variant: Variant::Paper,
            join_distance: 1.0,
            headroom: 0.0,
            noise_sigmas: None,
            distance: DistanceConfig::ddos(),
            lambda: 1.01,
            constraint: Constraint::Variance(9.0),
            duplication: 1,
            m_max: 4096,
            th_w: 0.01,
            cluster_cap: 65_536,
            refresh_interval: 1.0,
            flow_load: FlowLoad::Mean,
            train_flows: 500,
            start: Start::WarmUp,
            search: SearchMode::Indexed,
        }
    }

    /// The constraint `solve_p` plans against: the bound less the headroom.
    pub fn planning_constraint(&self) -> Constraint {
        let keep = 1.0 - self.headroom;
        match self.constraint {
            Constraint::Variance(v) => Constraint::Variance(v * keep),
            Constraint::Threshold(t) => Constraint::Threshold(t * keep),
        }
    }

    /// The weight rule of the variant.
    pub fn weight_rule(&self) -> WeightRule {
        match self.variant {
            Variant::Paper => WeightRule::Paper,
            Variant::Robust => WeightRule::Mass,
        }
    }

    /// The weight rule with this configuration's decay.
    pub fn weights(&self) -> Weights {
        Weights {
            ln_lambda: self.lambda.ln(),
            rule: self.weight_rule(),
        }
    }

    /// Check the settings; the error names the setting.
    pub fn validate(&self, sensors: usize) -> Result<(), crate::Error> {
        let bad =
            |setting: &'static str, reason: String| Err(crate::Error::Setting { setting, reason });
        self.distance.validate()?;
        if !(self.lambda.is_finite() && self.lambda > 1.0) {
            return bad(
                "lambda",
                format!("must be a number above 1, not {}", self.lambda),
            );
        }
        match self.constraint {
            Constraint::Variance(v) if !(v.is_finite() && v >= 0.0) => {
                return bad(
                    "variance_bound",
                    format!("must be a non-negative number of %², not {v}"),
                );
            }
            Constraint::Threshold(t) if !(t.is_finite() && t > 0.0) => {
                return bad(
                    "load_threshold",
                    format!("must be a positive percentage, not {t}"),
                );
            }
            _ => {}
        }
        if !(self.join_distance > 0.0 && self.join_distance <= 1.0) {
            return bad(
                "join_distance",
                format!(
                    "must be a logical distance above 0 and at most 1, not {}",
                    self.join_distance
                ),
            );
        }
        if !(0.0..1.0).contains(&self.headroom) {
            return bad(
                "headroom",
                format!(
                    "must be a fraction of the bound from 0 up to (not including) 1, not {}",
                    self.headroom
                ),
            );
        }
        if let Some(z) = self.noise_sigmas
            && !(z.is_finite() && (0.0..=10.0).contains(&z))
        {
            return bad(
                "noise_sigmas",
                format!("must be a number of standard deviations from 0 to 10, not {z}"),
            );
        }
        if self.duplication == 0 || self.duplication > sensors {
            return bad(
                "duplication",
                format!(
                    "must be between 1 and the number of sensors ({sensors}), not {}",
                    self.duplication
                ),
            );
        }
        if self.m_max == 0 {
            return bad("m_max", "must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.th_w) {
            return bad(
                "th_w",
                format!("must be between 0 and 1, not {}", self.th_w),
            );
        }
        if self.cluster_cap <= self.m_max {
            return bad(
                "cluster_cap",
                format!(
                    "must be above m_max ({}), not {}",
                    self.m_max, self.cluster_cap
                ),
            );
        }
        if !(self.refresh_interval.is_finite() && self.refresh_interval >= 0.0) {
            return bad(
                "refresh_interval",
                format!(
                    "must be a non-negative number of seconds, not {}",
                    self.refresh_interval
                ),
            );
        }
        if self.train_flows > MAX_TRAIN_FLOWS {
            return bad(
                "train_flows",
                format!(
                    "must be at most {MAX_TRAIN_FLOWS} (the k-medoids start is quadratic in it), not {}",
                    self.train_flows
                ),
            );
        }
        if let FlowLoad::Fixed(r) = self.flow_load
            && !(r.is_finite() && r >= 0.0)
        {
            return bad(
                "flow_load",
                format!("must be a non-negative rate in bytes per second, not {r}"),
            );
        }
        Ok(())
    }
}
