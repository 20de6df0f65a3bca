//! Which destinations may have Prometheus series of their own: the
//! `metrics.include` / `metrics.exclude` glob patterns.

use crate::model::glob_match;

/// Include and exclude patterns over destination names.
#[derive(Debug, Clone)]
pub struct Selection {
    include: Vec<String>,
    exclude: Vec<String>,
}

impl Selection {
    /// A selection admitting names that match some `include` pattern and no
    /// `exclude` pattern.
    pub fn new(include: &[String], exclude: &[String]) -> Self {
        Selection {
            include: include.to_vec(),
            exclude: exclude.to_vec(),
        }
    }

    /// Admits every name.
    pub fn all() -> Self {
        Selection {
            include: vec!["*".into()],
            exclude: Vec::new(),
        }
    }

    /// Whether `name` may get series of its own (subject to the cap).
    pub fn admits(&self, name: &str) -> bool {
        self.include.iter().any(|p| glob_match(p, name))
            && !self.exclude.iter().any(|p| glob_match(p, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclude_wins_over_include() {
        let s = Selection::new(
            &["/queue/*".into(), "/topic/prices".into()],
            &["/queue/tmp.*".into()],
        );
        assert!(s.admits("/queue/orders"));
        assert!(s.admits("/topic/prices"));
        assert!(!s.admits("/topic/news"));
        assert!(!s.admits("/queue/tmp.123"));
        assert!(Selection::all().admits("/topic/anything"));
        assert!(!Selection::new(&[], &[]).admits("/queue/a"));
    }
}
