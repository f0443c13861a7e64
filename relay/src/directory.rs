//! Which consumers this relay serves, and where their origins and gateways are: the
//! `[[consumers]]` table as configured, plus (with a `serve` policy) the consumers the chain
//! lists, added and dropped by `discover` at each chain refresh. Requests, co-signing and
//! the chain refresh all read it; no restart is needed when it changes.
use anchor_lang::prelude::Pubkey;
use std::collections::HashMap;
use std::sync::RwLock;
use url::Url;

/// Where one consumer's content and co-signatures come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub origin: Url,
    pub gateway: Option<Url>,
    /// Learned from the chain and the gateway (rather than configured).
    pub discovered: bool,
    /// Served now. A discovered consumer that left the chain's listing stops being served
    /// but stays, so what it owes is still co-signed and settled.
    pub listed: bool,
    /// The epoch a discovered consumer left the listing in: two epochs later nothing of its
    /// can settle any more (only the current and the previous epoch do), and it is dropped.
    pub unlisted_in: Option<u64>,
}

#[derive(Debug, Default)]
pub struct Directory {
    routes: RwLock<HashMap<Pubkey, Route>>,
}

impl Directory {
    /// The configured table.
    pub fn configured(consumers: &[crate::config::ConsumerConfig]) -> Self {
        let routes = consumers
            .iter()
            .map(|c| {
                let route = Route {
                    origin: c.origin.clone(),
                    gateway: c.gateway.clone(),
                    discovered: false,
                    listed: true,
                    unlisted_in: None,
                };
                (c.owner, route)
            })
            .collect();
        Directory {
            routes: RwLock::new(routes),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Pubkey, Route>> {
        self.routes.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Pubkey, Route>> {
        self.routes.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The origin of a consumer served now.
    pub fn origin(&self, consumer: &Pubkey) -> Option<Url> {
        self.read()
            .get(consumer)
            .filter(|r| r.listed)
            .map(|r| r.origin.clone())
    }

    pub fn route(&self, consumer: &Pubkey) -> Option<Route> {
        self.read().get(consumer).cloned()
    }

    /// Every consumer with a gateway (served now or still owing), for co-signing.
    pub fn gateways(&self) -> Vec<(Pubkey, Url)> {
        let mut gateways: Vec<(Pubkey, Url)> = self
            .read()
            .iter()
            .filter_map(|(c, r)| r.gateway.clone().map(|g| (*c, g)))
            .collect();
        gateways.sort_by_key(|(c, _)| *c);
        gateways
    }

    /// Every consumer in the directory, for the chain view.
    pub fn consumers(&self) -> Vec<Pubkey> {
        let mut consumers: Vec<Pubkey> = self.read().keys().copied().collect();
        consumers.sort();
        consumers
    }

    /// The consumers served now.
    pub fn served(&self) -> Vec<Pubkey> {
        let mut served: Vec<Pubkey> = self
            .read()
            .iter()
            .filter(|(_, r)| r.listed)
            .map(|(c, _)| *c)
            .collect();
        served.sort();
        served
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Adds or replaces a discovered consumer's route (a configured one is never replaced).
    pub fn discovered(&self, consumer: Pubkey, origin: Url, gateway: Url) {
        let mut routes = self.write();
        if routes.get(&consumer).is_some_and(|r| !r.discovered) {
            return;
        }
        routes.insert(
            consumer,
            Route {
                origin,
                gateway: Some(gateway),
                discovered: true,
                listed: true,
                unlisted_in: None,
            },
        );
    }

    /// Stops serving the discovered consumers not in `listed` (in `epoch`); returns them.
    pub fn unlist_others(&self, listed: &[Pubkey], epoch: u64) -> Vec<Pubkey> {
        let mut dropped = Vec::new();
        for (consumer, route) in self.write().iter_mut() {
            if route.discovered && route.listed && !listed.contains(consumer) {
                route.listed = false;
                route.unlisted_in = Some(epoch);
                dropped.push(*consumer);
            }
        }
        dropped.sort();
        dropped
    }

    /// Forgets the discovered consumers unlisted two epochs or more before `epoch`: nothing
    /// they owe can settle now, so they no longer hold a place under `max_consumers`.
    pub fn evict_unlisted(&self, epoch: u64) -> Vec<Pubkey> {
        let mut evicted = Vec::new();
        self.write().retain(|consumer, route| {
            let settled_out = route
                .unlisted_in
                .is_some_and(|left| left.saturating_add(2) <= epoch);
            if route.discovered && !route.listed && settled_out {
                evicted.push(*consumer);
                return false;
            }
            true
        });
        evicted.sort();
        evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovered_consumers_come_and_go_and_configured_ones_stay() {
        let configured = crate::config::ConsumerConfig {
            owner: Pubkey::new_unique(),
            origin: "http://origin.example/".parse().unwrap(),
            gateway: None,
        };
        let directory = Directory::configured(std::slice::from_ref(&configured));
        let found = Pubkey::new_unique();
        let origin: Url = "http://found.example/".parse().unwrap();
        let gateway: Url = "http://gw.example/".parse().unwrap();
        directory.discovered(found, origin.clone(), gateway.clone());
        // A discovered route never replaces a configured one.
        directory.discovered(configured.owner, origin.clone(), gateway.clone());
        assert_eq!(
            directory.origin(&configured.owner),
            Some(configured.origin.clone())
        );
        assert_eq!(directory.origin(&found), Some(origin));
        assert_eq!(directory.gateways(), vec![(found, gateway.clone())]);
        // Left the listing: no longer served, still co-signed.
        assert_eq!(directory.unlist_others(&[], 7), vec![found]);
        assert_eq!(directory.origin(&found), None);
        assert_eq!(directory.served(), vec![configured.owner]);
        assert_eq!(directory.gateways(), vec![(found, gateway.clone())]);
        assert_eq!(directory.len(), 2);
        // Its epoch 7 still settles in epoch 8; from epoch 9 on the route is gone (and the
        // configured one never is).
        assert!(directory.evict_unlisted(8).is_empty());
        assert_eq!(directory.evict_unlisted(9), vec![found]);
        assert_eq!(directory.consumers(), vec![configured.owner]);
        assert!(directory.evict_unlisted(100).is_empty());
        // Listed again later: taken on afresh.
        directory.discovered(found, "http://found.example/".parse().unwrap(), gateway);
        assert_eq!(directory.unlist_others(&[found], 10), Vec::<Pubkey>::new());
        assert_eq!(directory.len(), 2);
    }
}
