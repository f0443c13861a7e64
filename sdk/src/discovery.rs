//! Which providers are relays a viewer may use: the active edges with an http(s) endpoint.
//! Shared by the viewer library (over RPC) and the gateway (`GET /.media/relays`).
use crate::api::gateway::RelayListing;
use media_network::state::{Provider, ProviderKind, ProviderStatus};

/// Whether `provider` is a relay viewers may use: an active edge with an http(s) endpoint.
pub fn is_listed(provider: &Provider) -> bool {
    provider.status == ProviderStatus::Active
        && provider.kind == ProviderKind::Edge
        && (provider.endpoint.starts_with("http://") || provider.endpoint.starts_with("https://"))
}

/// A provider's region code as text (its zero padding removed).
pub fn region_text(region: &[u8]) -> String {
    String::from_utf8_lossy(region)
        .trim_end_matches('\0')
        .to_string()
}

/// The listed relays among `providers`, sorted by node key (a stable order).
pub fn listed_relays<'a>(providers: impl IntoIterator<Item = &'a Provider>) -> Vec<RelayListing> {
    let mut listed: Vec<RelayListing> = providers
        .into_iter()
        .filter(|p| is_listed(p))
        .map(|p| RelayListing {
            owner: p.owner.to_string(),
            node_key: p.node_key.to_string(),
            endpoint: p.endpoint.clone(),
            region: region_text(&p.region),
        })
        .collect();
    listed.sort_by(|a, b| a.node_key.cmp(&b.node_key));
    listed
}
