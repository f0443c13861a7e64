//! Which providers are relays a viewer may use: the active edges with an http(s) endpoint.
//! Shared by the viewer library (over RPC) and the gateway (`GET /.media/relays`).
use crate::api::gateway::RelayListing;
use media_network::state::{Provider, ProviderKind, ProviderStatus};

/// The listed relays among `providers`, sorted by node key (a stable order).
pub fn listed_relays<'a>(providers: impl IntoIterator<Item = &'a Provider>) -> Vec<RelayListing> {
    let mut listed: Vec<RelayListing> = providers
        .into_iter()
        .filter(|p| p.status == ProviderStatus::Active && p.kind == ProviderKind::Edge)
        .filter(|p| p.endpoint.starts_with("http://") || p.endpoint.starts_with("https://"))
        .map(|p| RelayListing {
            node_key: p.node_key.to_string(),
            endpoint: p.endpoint.clone(),
            region: String::from_utf8_lossy(&p.region)
                .trim_end_matches('\0')
                .to_string(),
        })
        .collect();
    listed.sort_by(|a, b| a.node_key.cmp(&b.node_key));
    listed
}
