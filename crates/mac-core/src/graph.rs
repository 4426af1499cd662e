//! Dependency graphs: kinds of a provider, objects of a project, actions of a plan.
//! Orders are deterministic: among nodes that are ready at the same time, the smallest
//! comes first.

use std::collections::{BTreeMap, BTreeSet};

/// Orders nodes so that every node comes after all it depends on. `depends_on[n]` lists the
/// nodes `n` needs first. Returns the cycle (first node repeated at the end) if there is one.
pub fn topological_order<N: Ord + Clone>(
    nodes: &BTreeSet<N>,
    depends_on: &BTreeMap<N, BTreeSet<N>>,
) -> Result<Vec<N>, Vec<N>> {
    let mut waiting_on: BTreeMap<&N, usize> = nodes.iter().map(|node| (node, 0)).collect();
    let mut dependants: BTreeMap<&N, Vec<&N>> = BTreeMap::new();
    for (node, dependencies) in depends_on {
        for dependency in dependencies {
            if nodes.contains(dependency) && nodes.contains(node) {
                *waiting_on.entry(node).or_default() += 1;
                dependants.entry(dependency).or_default().push(node);
            }
        }
    }
    let mut ready: BTreeSet<&N> = waiting_on.iter().filter(|(_, count)| **count == 0).map(|(node, _)| *node).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(node) = ready.pop_first() {
        order.push(node.clone());
        for dependant in dependants.get(node).into_iter().flatten() {
            if let Some(count) = waiting_on.get_mut(dependant) {
                *count -= 1;
                if *count == 0 {
                    ready.insert(dependant);
                }
            }
        }
    }
    if order.len() == nodes.len() {
        return Ok(order);
    }
    let stuck: BTreeSet<N> =
        waiting_on.into_iter().filter(|(_, count)| *count > 0).map(|(node, _)| node.clone()).collect();
    Err(find_cycle(&stuck, depends_on))
}

/// A cycle among `stuck`, every one of which lies on or behind a cycle.
fn find_cycle<N: Ord + Clone>(stuck: &BTreeSet<N>, depends_on: &BTreeMap<N, BTreeSet<N>>) -> Vec<N> {
    let Some(start) = stuck.first() else { return Vec::new() };
    // Walk dependencies inside the stuck set until a node repeats: that loop is a cycle.
    let mut path: Vec<N> = vec![start.clone()];
    let mut seen: BTreeMap<N, usize> = BTreeMap::from([(start.clone(), 0)]);
    loop {
        let Some(current) = path.last() else { return Vec::new() };
        let next = depends_on
            .get(current)
            .and_then(|dependencies| dependencies.iter().find(|dependency| stuck.contains(*dependency)));
        let Some(next) = next else { return path };
        if let Some(&position) = seen.get(next) {
            let mut cycle = path[position..].to_vec();
            cycle.push(next.clone());
            // Show a cycle in the order things must happen: dependency first.
            cycle.reverse();
            return cycle;
        }
        seen.insert(next.clone(), path.len());
        path.push(next.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(
        edges: &[(&'static str, &'static str)],
    ) -> (BTreeSet<&'static str>, BTreeMap<&'static str, BTreeSet<&'static str>>) {
        let mut nodes = BTreeSet::new();
        let mut depends_on: BTreeMap<_, BTreeSet<_>> = BTreeMap::new();
        for (node, dependency) in edges {
            nodes.insert(*node);
            nodes.insert(*dependency);
            depends_on.entry(*node).or_default().insert(*dependency);
        }
        (nodes, depends_on)
    }

    #[test]
    fn dependencies_come_first_and_ties_break_by_order() {
        let (nodes, depends_on) = graph(&[("group", "folder"), ("b", "a"), ("folder", "a")]);
        assert_eq!(topological_order(&nodes, &depends_on), Ok(vec!["a", "b", "folder", "group"]));
    }

    #[test]
    fn a_cycle_is_named_in_dependency_order() {
        let (nodes, depends_on) = graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")]);
        let cycle = topological_order(&nodes, &depends_on).expect_err("cycle");
        // Each node is a dependency of the next: a before c (c depends on a), c before b, b before a.
        assert_eq!(cycle, ["a", "c", "b", "a"], "d only depends on the cycle and is not in it");
    }
}
