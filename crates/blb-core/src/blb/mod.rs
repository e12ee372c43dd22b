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

pub use balancer::{BlbBalancer, BlbCounters};
pub use cluster::{Cluster, ClusterSet, ClusterStats};
pub use distance::{Distance, DistanceConfig, FlowPoint};
pub use solve_p::Constraint;

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

/// Settings of the BLB balancer.
#[derive(Clone, Debug, PartialEq)]
pub struct BlbConfig {
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
    /// Flows used for the k-medoids start when no training flows are given (0: no start).
    pub train_flows: usize,
    /// Search used by `solve_p`.
    pub search: SearchMode,
}

impl Default for BlbConfig {
    fn default() -> Self {
        BlbConfig {
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
            search: SearchMode::Indexed,
        }
    }
}

impl BlbConfig {
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
