//! `hash-type consistent` and `balance random` (`lb_chash.c`): each server owns
//! `eweight` points on a 32-bit ring at `full_hash(puid * 4096 + n)`; a hash goes to the
//! nearer of the points around it, a round-robin walk follows the ring.

use std::time::Duration;

use super::hash::full_hash;
use super::tree::NodeRef;
use super::{Balancer, BE_WEIGHT_SCALE, SRV_EWGHT_RANGE};

impl Balancer {
    /// `chash_init_server_tree()`.
    pub(super) fn chash_init(&mut self) {
        self.prm.wdiv = BE_WEIGHT_SCALE;
        for srv in &mut self.srvs {
            srv.next_eweight = (srv.uweight * self.prm.wdiv).div_ceil(self.prm.wmult);
            srv.commit();
        }
        self.recount_servers();
        self.update_backend_weight();
        self.chash_last = None;
        for s in 0..self.srvs.len() {
            let srv = &mut self.srvs[s];
            srv.lb_tree = Some(usize::from(srv.backup));
            let tot = srv.uweight * BE_WEIGHT_SCALE;
            srv.ch_keys = (0..tot)
                .map(|n| full_hash(srv.puid.wrapping_mul(SRV_EWGHT_RANGE).wrapping_add(n)))
                .collect();
            srv.ch_nodes = vec![None; tot as usize];
            srv.ch_now = 0;
            if self.srvs[s].currently_usable() {
                self.chash_requeue(s);
            }
        }
    }

    /// `chash_skip_node()`: the node after `node` on its ring, `None` if it is alone.
    fn chash_skip(&self, tree: usize, node: NodeRef) -> Option<(usize, NodeRef)> {
        let next = self.trees[tree]
            .next(node)
            .or_else(|| self.trees[tree].first())?;
        (next.0 != node).then_some((tree, next.0))
    }

    /// Removes point `n` of server `s`, moving the round-robin cursor off it first.
    fn chash_remove_point(&mut self, s: usize, n: usize) {
        let Some(tree) = self.srvs[s].lb_tree else {
            return;
        };
        if let Some(node) = self.srvs[s].ch_nodes[n].take() {
            if self.chash_last == Some((tree, node)) {
                self.chash_last = self.chash_skip(tree, node);
            }
            self.trees[tree].remove(node);
        }
    }

    /// `chash_dequeue_srv()`: every point of the server off the ring.
    pub(super) fn chash_dequeue(&mut self, s: usize) {
        while self.srvs[s].ch_now > 0 {
            self.srvs[s].ch_now -= 1;
            let n = self.srvs[s].ch_now as usize;
            self.chash_remove_point(s, n);
        }
    }

    /// `chash_queue_dequeue_srv()`: as many points on the ring as the effective weight.
    pub(super) fn chash_requeue(&mut self, s: usize) {
        let Some(tree) = self.srvs[s].lb_tree else {
            return;
        };
        let want = self.srvs[s].next_eweight;
        while self.srvs[s].ch_now > want {
            self.srvs[s].ch_now -= 1;
            let n = self.srvs[s].ch_now as usize;
            self.chash_remove_point(s, n);
        }
        let tot = self.srvs[s].ch_keys.len() as u32;
        if tot < want {
            // More points than ever allocated: all out, then the ring is rebuilt with the
            // new ones (same keys for the old points).
            self.chash_dequeue(s);
            let srv = &mut self.srvs[s];
            let puid = srv.puid;
            srv.ch_keys.extend(
                (tot..want).map(|n| full_hash(puid.wrapping_mul(SRV_EWGHT_RANGE).wrapping_add(n))),
            );
            srv.ch_nodes.resize(want as usize, None);
        }
        while self.srvs[s].ch_now < want {
            let n = self.srvs[s].ch_now as usize;
            if n >= self.srvs[s].ch_keys.len() {
                break;
            }
            let key = self.srvs[s].ch_keys[n];
            let node = self.trees[tree].insert(key, (s, n as u32));
            self.srvs[s].ch_nodes[n] = Some(node);
            self.srvs[s].ch_now += 1;
        }
    }

    fn chash_root(&self) -> Result<usize, Option<usize>> {
        if self.prm.srv_act > 0 {
            Ok(0)
        } else if let Some(f) = self.prm.fbck {
            Err(Some(f))
        } else if self.prm.srv_bck > 0 {
            Ok(1)
        } else {
            Err(None)
        }
    }

    /// `chash_get_server_hash()` (without `hash-balance-factor`).
    pub(super) fn chash_by_hash(&self, hash: u32, avoid: Option<usize>) -> Option<usize> {
        let root = match self.chash_root() {
            Ok(r) => r,
            Err(direct) => return direct,
        };
        let ring = &self.trees[root];
        let next = ring.lookup_ge(hash).or_else(|| ring.first())?;
        let prev = ring.prev(next.0).or_else(|| ring.last())?;
        let dp = hash.wrapping_sub(prev.0.key);
        let dn = next.0.key.wrapping_sub(hash);
        let mut at = if dp <= dn { prev } else { next };
        let mut loops = 0;
        while Some(at.1 .0) == avoid {
            at = match ring.next(at.0) {
                Some(n) => n,
                None => {
                    loops += 1;
                    if loops > 1 {
                        break;
                    }
                    ring.first()?
                }
            };
        }
        Some(at.1 .0)
    }

    /// `chash_get_next_server()`: round robin along the ring (the fallback when a
    /// request has no hash key).
    pub(super) fn chash_next(&mut self, avoid: Option<usize>, now: Duration) -> Option<usize> {
        let root = match self.chash_root() {
            Ok(r) => r,
            Err(direct) => return direct,
        };
        let mut node = self.chash_last;
        let mut stop = node;
        let mut avoided = None;
        let mut avoided_node = None;
        loop {
            let next = match node {
                Some((t, n)) => self.trees[t].next(n).map(|x| (t, x)),
                None => None,
            };
            let next = next.or_else(|| self.trees[root].first().map(|x| (root, x)));
            let Some((t, (n, (s, _)))) = next else {
                self.chash_last = None;
                return None;
            };
            node = Some((t, n));
            self.chash_last = node;
            if stop.is_none() {
                stop = node;
            }
            let srv = &self.srvs[s];
            if srv.maxconn == 0
                || (srv.queue.is_empty() && srv.served < self.dynamic_maxconn(s, now))
            {
                if Some(s) != avoid {
                    return Some(s);
                }
                avoided = Some(s);
                avoided_node = node;
            }
            if node == stop {
                break;
            }
        }
        self.chash_last = avoided_node;
        avoided
    }

    /// `get_server_rnd()`: `draws` random points on the ring, the least loaded of the
    /// servers they land on (relative to weight); none when that one is full, so the
    /// connection waits in the backend queue.
    pub(super) fn random_next(
        &mut self,
        draws: u32,
        avoid: Option<usize>,
        now: Duration,
    ) -> Option<usize> {
        let mut curr: Option<usize> = None;
        let mut left = draws;
        loop {
            let prev = curr;
            let hash = self.prng_next();
            curr = self.chash_by_hash(hash, avoid);
            let Some(c) = curr else { break };
            if let Some(p) = prev {
                let (cs, ps) = (&self.srvs[c], &self.srvs[p]);
                if p != c
                    && (cs.served as u64 * ps.cur_eweight as u64)
                        > (ps.served as u64 * cs.cur_eweight as u64)
                {
                    curr = Some(p);
                }
            }
            left -= 1;
            if left == 0 {
                break;
            }
        }
        let c = curr?;
        let srv = &self.srvs[c];
        if !srv.queue.is_empty() || (srv.maxconn > 0 && srv.served >= self.dynamic_maxconn(c, now))
        {
            return None;
        }
        Some(c)
    }
}
