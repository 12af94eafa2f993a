//! An ordered multiset with HAProxy's ebtree semantics: keys are `u32`, entries with equal
//! keys come out in the order they were inserted (`eb_next` walks duplicates oldest
//! first, `eb_prev` newest first). The balancers' server orders depend on that.

use std::collections::BTreeMap;

/// Where one entry sits: its key and its insertion number (the tie-breaker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct NodeRef {
    pub key: u32,
    seq: u64,
}

/// What an entry points at: a server index and, for the consistent-hash ring, which of
/// the server's points this is (0 for the other trees).
pub(crate) type Item = (usize, u32);

#[derive(Debug, Clone, Default)]
pub(crate) struct Tree {
    nodes: BTreeMap<NodeRef, Item>,
    seq: u64,
}

impl Tree {
    pub fn insert(&mut self, key: u32, item: Item) -> NodeRef {
        self.seq += 1;
        let node = NodeRef { key, seq: self.seq };
        self.nodes.insert(node, item);
        node
    }

    pub fn remove(&mut self, node: NodeRef) {
        self.nodes.remove(&node);
    }

    pub fn first(&self) -> Option<(NodeRef, Item)> {
        self.nodes.iter().next().map(|(n, i)| (*n, *i))
    }

    pub fn last(&self) -> Option<(NodeRef, Item)> {
        self.nodes.iter().next_back().map(|(n, i)| (*n, *i))
    }

    /// The entry after `node` (which may have been removed since).
    pub fn next(&self, node: NodeRef) -> Option<(NodeRef, Item)> {
        use std::ops::Bound::{Excluded, Unbounded};
        self.nodes
            .range((Excluded(node), Unbounded))
            .next()
            .map(|(n, i)| (*n, *i))
    }

    pub fn prev(&self, node: NodeRef) -> Option<(NodeRef, Item)> {
        self.nodes.range(..node).next_back().map(|(n, i)| (*n, *i))
    }

    /// The first entry whose key is at least `key` (`eb32_lookup_ge`).
    pub fn lookup_ge(&self, key: u32) -> Option<(NodeRef, Item)> {
        self.nodes
            .range(NodeRef { key, seq: 0 }..)
            .next()
            .map(|(n, i)| (*n, *i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_come_out_in_insertion_order() {
        let mut t = Tree::default();
        let a = t.insert(5, (0, 0));
        t.insert(5, (1, 0));
        t.insert(3, (2, 0));
        t.remove(a);
        t.insert(5, (0, 0));
        let mut order = vec![];
        let mut cur = t.first();
        while let Some((n, i)) = cur {
            order.push(i.0);
            cur = t.next(n);
        }
        assert_eq!(order, [2, 1, 0]);
        assert_eq!(t.lookup_ge(4).map(|x| x.1 .0), Some(1));
        assert_eq!(t.last().map(|x| x.1 .0), Some(0));
    }
}
