//! The `container` label, bounded: the containers with the most zombies get a series of
//! their own (at most `--metrics-max-containers`, default 20), the rest are summed into
//! `container="other"`, and a container whose zombies are all gone loses its series. However
//! many containers a host runs, the zombie gauges have at most N + 1 series each.
use std::{cmp::Reverse, sync::Arc};

use crate::engine::ContainerZombieGauge;

/// The label of zombies outside any container.
pub const HOST: &str = "host";
/// The label of the containers beyond the first N.
pub const OTHER: &str = "other";

/// The zombie gauges of one label value.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerSeries {
    pub container: String,
    pub zombies: u64,
    pub oldest_age_ns: u64,
}

/// The label values and their figures: the `max` containers with the most zombies (ties: the
/// older oldest zombie first, then by id, so the choice is stable), then one `other` with the
/// sum of the rest's zombies and the oldest of their ages. Containers without zombies are
/// not listed.
pub fn bound(mut containers: Vec<ContainerZombieGauge>, max: usize) -> Vec<ContainerSeries> {
    containers.retain(|c| c.zombies > 0);
    containers.sort_by(|a, b| {
        (
            Reverse(a.zombies),
            Reverse(a.oldest_age_ns),
            &a.container_id,
        )
            .cmp(&(
                Reverse(b.zombies),
                Reverse(b.oldest_age_ns),
                &b.container_id,
            ))
    });
    let mut series: Vec<ContainerSeries> = Vec::with_capacity(max.min(containers.len()) + 1);
    let mut rest: Option<ContainerSeries> = None;
    for (i, c) in containers.into_iter().enumerate() {
        if i < max {
            series.push(ContainerSeries {
                container: label(c.container_id.as_ref()),
                zombies: c.zombies,
                oldest_age_ns: c.oldest_age_ns,
            });
        } else {
            let other = rest.get_or_insert_with(|| ContainerSeries {
                container: OTHER.to_owned(),
                zombies: 0,
                oldest_age_ns: 0,
            });
            other.zombies += c.zombies;
            other.oldest_age_ns = other.oldest_age_ns.max(c.oldest_age_ns);
        }
    }
    series.extend(rest);
    series
}

fn label(container_id: Option<&Arc<str>>) -> String {
    container_id.map_or_else(|| HOST.to_owned(), ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: Option<&str>, zombies: u64, age: u64) -> ContainerZombieGauge {
        ContainerZombieGauge {
            container_id: id.map(Arc::from),
            zombies,
            oldest_age_ns: age,
        }
    }

    fn s(container: &str, zombies: u64, age: u64) -> ContainerSeries {
        ContainerSeries {
            container: container.to_owned(),
            zombies,
            oldest_age_ns: age,
        }
    }

    #[test]
    fn under_the_bound_every_container_has_its_series_host_included() {
        let got = bound(
            vec![c(Some("b"), 1, 5), c(None, 3, 1), c(Some("a"), 2, 9)],
            20,
        );
        assert_eq!(got, vec![s("host", 3, 1), s("a", 2, 9), s("b", 1, 5)]);
        assert!(bound(Vec::new(), 20).is_empty());
    }

    #[test]
    fn the_top_n_by_zombies_then_the_rest_summed_into_other_with_its_oldest_age() {
        let containers = (0..30u64)
            .map(|i| c(Some(&format!("c{i:02}")), i + 1, 100 - i))
            .collect();
        let got = bound(containers, 20);
        assert_eq!(got.len(), 21);
        assert_eq!(got[0], s("c29", 30, 71));
        assert_eq!(got[19], s("c10", 11, 90));
        // c00..c09: 1 + 2 + … + 10 zombies; the oldest is c00's 100.
        assert_eq!(got[20], s("other", 55, 100));
    }

    #[test]
    fn ties_are_broken_by_the_oldest_zombie_then_the_id() {
        let got = bound(
            vec![c(Some("z"), 2, 5), c(Some("y"), 2, 5), c(Some("x"), 2, 7)],
            2,
        );
        assert_eq!(got, vec![s("x", 2, 7), s("y", 2, 5), s("other", 2, 5)]);
    }

    #[test]
    fn a_bound_of_zero_sums_everything_and_empty_containers_are_dropped() {
        let got = bound(
            vec![c(Some("a"), 2, 3), c(None, 1, 8), c(Some("b"), 0, 0)],
            0,
        );
        assert_eq!(got, vec![s("other", 3, 8)]);
        let got = bound(vec![c(Some("b"), 0, 0)], 5);
        assert!(got.is_empty());
    }
}
