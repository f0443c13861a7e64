//! The origin handshake (issue 17): the consumer's origin stays private, and a relay learns
//! it only by asking `POST /.media/origin` with an ask signed by its node key. The gateway
//! answers an ask for its own consumer and config, issued within `window_secs` of its clock,
//! from a node key the chain lists as an active edge provider's, and admitted by the
//! publisher's allow/deny lists and minimum bond. The checks run cheapest first: the
//! signature is verified only for a node key the chain lists.
use anchor_lang::prelude::Pubkey;
use media_sdk::session::SignedOriginAsk;
use std::collections::HashMap;
use url::Url;

/// A provider as the gateway's last chain read saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedProvider {
    pub owner: Pubkey,
    /// Active and an edge (a relay).
    pub active_edge: bool,
    /// Its bond from the next epoch on (what stays staked unless it deactivates).
    pub bond: u64,
}

/// Providers by node key.
pub type Providers = HashMap<Pubkey, ListedProvider>;

/// Who gets the origin.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    /// None: this gateway hands out no origin (relays are configured with it by hand).
    pub origin: Option<Url>,
    /// When not empty, only these relays (node keys or owners) get it.
    pub allow: Vec<Pubkey>,
    /// These relays (node keys or owners) never get it.
    pub deny: Vec<Pubkey>,
    /// The least bond (MEDIA base units) a relay must have.
    pub min_bond: u64,
    /// How far an ask's `issued_at` may be from the gateway's clock, either way.
    pub window_secs: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginRefusal {
    #[error("this gateway hands out no origin")]
    NoOrigin,
    #[error("no chain view yet: the gateway checks relays against the chain (rpc_url)")]
    NoChainView,
    #[error("the ask does not decode: {0}")]
    Malformed(String),
    #[error("the ask is for consumer {0}, not this gateway's")]
    WrongConsumer(Pubkey),
    #[error("the ask is for config {0}, not this network's")]
    WrongConfig(Pubkey),
    #[error("the ask was issued at {issued_at}, outside {window_secs} s of now ({now})")]
    Stale {
        issued_at: i64,
        now: i64,
        window_secs: i64,
    },
    #[error("node key {0} is not an active edge provider's on chain")]
    NotAnActiveRelay(Pubkey),
    #[error("the ask's signature does not verify")]
    BadSignature,
    #[error("relay {0} is not admitted by the publisher")]
    NotAdmitted(Pubkey),
    #[error("relay {node_key} bonds {bond}, less than the {min_bond} this publisher asks")]
    BondTooSmall {
        node_key: Pubkey,
        bond: u64,
        min_bond: u64,
    },
}

impl OriginPolicy {
    /// The origin for the relay that signed `ask`, or why it does not get it.
    pub fn admit(
        &self,
        ask: &str,
        consumer: &Pubkey,
        config: &Pubkey,
        providers: Option<&Providers>,
        now: i64,
    ) -> Result<&Url, OriginRefusal> {
        let origin = self.origin.as_ref().ok_or(OriginRefusal::NoOrigin)?;
        let signed = SignedOriginAsk::from_base64(ask)
            .map_err(|e| OriginRefusal::Malformed(e.to_string()))?;
        let ask = signed.ask;
        if ask.consumer != *consumer {
            return Err(OriginRefusal::WrongConsumer(ask.consumer));
        }
        if ask.config != *config {
            return Err(OriginRefusal::WrongConfig(ask.config));
        }
        if ask.issued_at.abs_diff(now) > self.window_secs.unsigned_abs() {
            return Err(OriginRefusal::Stale {
                issued_at: ask.issued_at,
                now,
                window_secs: self.window_secs,
            });
        }
        let providers = providers.ok_or(OriginRefusal::NoChainView)?;
        let provider = providers
            .get(&ask.node_key)
            .filter(|p| p.active_edge)
            .ok_or(OriginRefusal::NotAnActiveRelay(ask.node_key))?;
        signed.verify().map_err(|_| OriginRefusal::BadSignature)?;
        let named =
            |list: &[Pubkey]| list.contains(&ask.node_key) || list.contains(&provider.owner);
        if named(&self.deny) || (!self.allow.is_empty() && !named(&self.allow)) {
            return Err(OriginRefusal::NotAdmitted(ask.node_key));
        }
        if provider.bond < self.min_bond {
            return Err(OriginRefusal::BondTooSmall {
                node_key: ask.node_key,
                bond: provider.bond,
                min_bond: self.min_bond,
            });
        }
        Ok(origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use media_sdk::receipt::pubkey_of;
    use media_sdk::session::OriginAsk;

    const NOW: i64 = 1_800_000_000;

    struct World {
        node: SigningKey,
        owner: Pubkey,
        consumer: Pubkey,
        config: Pubkey,
        providers: Providers,
        policy: OriginPolicy,
    }

    fn world() -> World {
        let node = SigningKey::from_bytes(&[3; 32]);
        let owner = Pubkey::new_unique();
        let mut providers = Providers::new();
        providers.insert(
            pubkey_of(&node),
            ListedProvider {
                owner,
                active_edge: true,
                bond: 25_000_000,
            },
        );
        World {
            node,
            owner,
            consumer: Pubkey::new_unique(),
            config: Pubkey::new_unique(),
            providers,
            policy: OriginPolicy {
                origin: Some("http://10.0.0.5:9000/".parse().unwrap()),
                window_secs: 60,
                ..OriginPolicy::default()
            },
        }
    }

    impl World {
        fn ask(&self, issued_at: i64) -> OriginAsk {
            OriginAsk {
                config: self.config,
                consumer: self.consumer,
                node_key: pubkey_of(&self.node),
                issued_at,
            }
        }

        fn admit(&self, ask: &str) -> Result<&Url, OriginRefusal> {
            self.policy.admit(
                ask,
                &self.consumer,
                &self.config,
                Some(&self.providers),
                NOW,
            )
        }
    }

    #[test]
    fn an_active_relay_signing_for_this_consumer_gets_the_origin() {
        let w = world();
        let ask = w.ask(NOW - 30).sign(&w.node).to_base64();
        assert_eq!(w.admit(&ask).unwrap().as_str(), "http://10.0.0.5:9000/");
    }

    #[test]
    fn forged_stale_misdirected_and_unlisted_asks_are_refused() {
        let mut w = world();
        let node_key = pubkey_of(&w.node);
        // Signed by another key than the one it names.
        let forger = SigningKey::from_bytes(&[9; 32]);
        let forged = w.ask(NOW).sign(&forger).to_base64();
        assert_eq!(w.admit(&forged), Err(OriginRefusal::BadSignature));
        // Too old, or from the future.
        for issued_at in [NOW - 61, NOW + 61] {
            let stale = w.ask(issued_at).sign(&w.node).to_base64();
            assert!(matches!(w.admit(&stale), Err(OriginRefusal::Stale { .. })));
        }
        // For another consumer, or another network.
        let other = Pubkey::new_unique();
        let elsewhere = OriginAsk {
            consumer: other,
            ..w.ask(NOW)
        };
        assert_eq!(
            w.admit(&elsewhere.sign(&w.node).to_base64()),
            Err(OriginRefusal::WrongConsumer(other))
        );
        let other_net = OriginAsk {
            config: other,
            ..w.ask(NOW)
        };
        assert_eq!(
            w.admit(&other_net.sign(&w.node).to_base64()),
            Err(OriginRefusal::WrongConfig(other))
        );
        // Garbage.
        assert!(matches!(
            w.admit("not-an-ask"),
            Err(OriginRefusal::Malformed(_))
        ));
        // A key the chain does not list, and a deactivated provider.
        let stranger = SigningKey::from_bytes(&[5; 32]);
        let unlisted = OriginAsk {
            node_key: pubkey_of(&stranger),
            ..w.ask(NOW)
        }
        .sign(&stranger)
        .to_base64();
        assert_eq!(
            w.admit(&unlisted),
            Err(OriginRefusal::NotAnActiveRelay(pubkey_of(&stranger)))
        );
        let ask = w.ask(NOW).sign(&w.node).to_base64();
        w.providers.get_mut(&node_key).unwrap().active_edge = false;
        assert_eq!(
            w.admit(&ask),
            Err(OriginRefusal::NotAnActiveRelay(node_key))
        );
        // Without a chain view nothing is handed out.
        assert_eq!(
            w.policy.admit(&ask, &w.consumer, &w.config, None, NOW),
            Err(OriginRefusal::NoChainView)
        );
        // Without an origin configured, neither.
        w.policy.origin = None;
        assert_eq!(w.admit(&ask), Err(OriginRefusal::NoOrigin));
    }

    #[test]
    fn the_publisher_may_allow_deny_and_ask_a_minimum_bond() {
        let mut w = world();
        let node_key = pubkey_of(&w.node);
        let ask = w.ask(NOW).sign(&w.node).to_base64();
        w.policy.deny = vec![w.owner];
        assert_eq!(w.admit(&ask), Err(OriginRefusal::NotAdmitted(node_key)));
        w.policy.deny.clear();
        w.policy.allow = vec![Pubkey::new_unique()];
        assert_eq!(w.admit(&ask), Err(OriginRefusal::NotAdmitted(node_key)));
        w.policy.allow.push(node_key);
        assert!(w.admit(&ask).is_ok());
        w.policy.min_bond = 25_000_001;
        assert!(matches!(
            w.admit(&ask),
            Err(OriginRefusal::BondTooSmall { .. })
        ));
    }
}
