//! Issue 17: the viewer's candidates come from the chain, over RPC, as providers register
//! and leave: a provider registered after the first read is found at the next one, and a
//! deactivated provider is not a candidate.
use media_sdk::ix;
use media_test_harness::network::Network;
use media_test_harness::solana_signer::Signer;
use media_viewer::discovery::relays_from_chain;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candidates_follow_the_chain() {
    let network = Network::start().await;
    assert!(relays_from_chain(&network.cluster)
        .await
        .unwrap()
        .is_empty());

    let (owner, node) = network.provider().await;
    let found = relays_from_chain(&network.cluster).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].node_key, node.pubkey());
    assert_eq!(found[0].owner, owner.pubkey());
    assert_eq!(found[0].endpoint.as_str(), "http://127.0.0.1/");
    assert_eq!(found[0].region, "local");

    network
        .cluster
        .send_and_confirm(&[ix::deactivate_provider(&owner.pubkey())], &owner, &[])
        .await
        .unwrap();
    assert!(
        relays_from_chain(&network.cluster)
            .await
            .unwrap()
            .is_empty(),
        "a deactivated provider is not a candidate"
    );
}
