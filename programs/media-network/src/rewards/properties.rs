//! Property tests of the fee-backed reward cap (issue 15, docs/economics.md), run on the
//! program's own fee, split, emission, reward and auction code. A farmer owns some relays,
//! the consumers that pay them and possibly the keeper: it pays itself, so of every fee it
//! loses exactly the treasury's share. Over random epochs, prices, splits, κ, backings and
//! market prices:
//! - the farmer's rewards are worth at most the MEDIA value (at the backing price) of the
//!   treasury fees its traffic paid, times κ;
//! - honest relays lose at most the farmer's share of bytes or of stake;
//! - E stays within every cap, and rewards within E;
//! - over many epochs with buy-back auctions, emission never exceeds the MEDIA burned, and a
//!   farmer that also bids above market to raise the backing price ends with P&L ≤ 0.
use crate::auction::PRICE_SHIFT;
use crate::fees;
use crate::rewards::{
    epoch_emission, fee_backed_cap, provider_reward, treasury_revenue_floor, Backing, EmissionCaps,
};
use crate::state::{Buyback, BuybackParams};
use proptest::prelude::*;

const GIB: u64 = 1 << 30;
const BPS: u128 = 10_000;

/// One relay's epoch: its bond, and the bytes of each receipt it settled (in order).
#[derive(Debug, Clone)]
struct Relay {
    bond: u64,
    receipts: Vec<u64>,
    /// Of its bytes, those the paying consumer's quota made reward-eligible (per mille).
    eligible_permille: u64,
}

#[derive(Debug, Clone)]
struct Terms {
    price_per_gib: u64,
    provider_bps: u16,
    keeper_bps: u16,
    kappa_bps: u16,
    emission_per_epoch: u64,
    unreserved: u64,
    max_reward_per_gib: u64,
}

/// What an epoch's settlements add up to for a set of relays.
#[derive(Debug, Default, Clone, Copy)]
struct Settled {
    reward_bytes: u64,
    stake: u64,
    treasury: u64,
    fees: u64,
}

fn settle(relays: &[Relay], terms: &Terms) -> (Settled, Vec<u64>) {
    let mut total = Settled::default();
    let mut eligible = Vec::new();
    for relay in relays {
        let mut settled = 0u64;
        for &bytes in &relay.receipts {
            let fee = fees::fee_for(settled, bytes, terms.price_per_gib).unwrap();
            let split = fees::split_fee(fee, terms.provider_bps, terms.keeper_bps).unwrap();
            total.treasury += split.treasury;
            total.fees += fee;
            settled += bytes;
        }
        let reward_bytes = settled / 1_000 * relay.eligible_permille
            + settled % 1_000 * relay.eligible_permille / 1_000;
        total.reward_bytes += reward_bytes;
        total.stake += relay.bond;
        eligible.push(reward_bytes);
    }
    (total, eligible)
}

/// E and each relay's reward for an epoch of `honest` and `farmer` relays.
struct Outcome {
    emission: u64,
    fee_backed: u64,
    valued: u64,
    honest: Vec<u64>,
    farmer: Vec<u64>,
    farmer_treasury: u64,
    /// Everything the epoch's settlements put in the treasury.
    treasury: u64,
    reward_bytes: u64,
    stake: u64,
}

fn epoch(honest: &[Relay], farmer: &[Relay], terms: &Terms, backing: &Backing) -> Outcome {
    let (h, h_eligible) = settle(honest, terms);
    let (f, f_eligible) = settle(farmer, terms);
    let reward_bytes = h.reward_bytes + f.reward_bytes;
    let stake = h.stake + f.stake;
    let shares = u32::from(terms.provider_bps) + u32::from(terms.keeper_bps);
    let revenue = treasury_revenue_floor(reward_bytes, terms.price_per_gib, shares);
    let (fee_backed, valued) = fee_backed_cap(revenue, backing, terms.kappa_bps);
    let caps = EmissionCaps {
        emission_per_epoch: terms.emission_per_epoch,
        unreserved: terms.unreserved,
        max_reward_per_gib: terms.max_reward_per_gib,
        fee_backed,
    };
    let emission = epoch_emission(reward_bytes, stake, &caps);
    let reward = |bytes: u64, bond: u64| {
        provider_reward(emission, bytes, reward_bytes, bond, stake).unwrap()
    };
    Outcome {
        emission,
        fee_backed,
        valued,
        honest: h_eligible
            .iter()
            .zip(honest)
            .map(|(b, r)| reward(*b, r.bond))
            .collect(),
        farmer: f_eligible
            .iter()
            .zip(farmer)
            .map(|(b, r)| reward(*b, r.bond))
            .collect(),
        farmer_treasury: f.treasury,
        treasury: h.treasury + f.treasury,
        reward_bytes,
        stake,
    }
}

fn relay(max_bytes: u64, eligible: bool) -> impl Strategy<Value = Relay> {
    let permille = if eligible {
        1_000..=1_000u64
    } else {
        0..=1_000u64
    };
    (
        25_000_000u64..=10_000_000_000,
        prop::collection::vec(1..=max_bytes, 0..4),
        permille,
    )
        .prop_map(|(bond, receipts, eligible_permille)| Relay {
            bond,
            receipts,
            eligible_permille,
        })
}

fn terms() -> impl Strategy<Value = Terms> {
    (
        1u64..=1 << 20,
        0u16..=10_000,
        0u16..=10_000,
        0u16..=10_000,
        0u64..=1 << 50,
        0u64..=1 << 52,
        0u64..=1 << 40,
    )
        .prop_map(|(price, p, k, kappa, emission, unreserved, per_gib)| {
            // Any split the program accepts: provider + keeper ≤ 10,000.
            let p = p.min(10_000);
            let k = k.min(10_000 - p);
            Terms {
                price_per_gib: price,
                provider_bps: p,
                keeper_bps: k,
                kappa_bps: kappa,
                emission_per_epoch: emission,
                unreserved,
                max_reward_per_gib: per_gib,
            }
        })
}

fn backing() -> impl Strategy<Value = Backing> {
    prop_oneof![
        Just(Backing::MEDIA),
        (1u64..=1 << 44, 0u64..=1 << 40, 1u64..=30, 0u64..=1_000).prop_map(
            |(price, volume, epochs, left_permille)| Backing {
                price,
                per_epoch: volume.div_ceil(epochs),
                remaining: volume / 1_000 * left_permille,
            }
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// The farmer's MEDIA out is at most κ times the MEDIA value of the treasury fees its own
    /// traffic paid, valued at the price the protocol backs revenue with.
    #[test]
    fn a_farmers_rewards_are_worth_at_most_kappa_times_its_treasury_fees(
        honest in prop::collection::vec(relay(1 << 40, false), 0..5),
        farmer in prop::collection::vec(relay(1 << 42, true), 1..4),
        terms in terms(),
        backing in backing(),
    ) {
        let out = epoch(&honest, &farmer, &terms, &backing);
        let farmer_out: u128 = out.farmer.iter().map(|&r| u128::from(r)).sum();
        // farmer_out ≤ T_f · price / 2^32 · κ / 10^4, exactly, in integers.
        let bound = u128::from(out.farmer_treasury)
            * u128::from(backing.price)
            * u128::from(terms.kappa_bps);
        prop_assert!(
            farmer_out * (1u128 << PRICE_SHIFT) * BPS <= bound,
            "farmer got {farmer_out} for treasury fees {} at {}", out.farmer_treasury, backing.price
        );
    }

    /// A farmer joining (more bytes, more stake) costs an honest relay at most the farmer's
    /// share of B or of S, whichever is smaller for it: the caps only grow with B, and the
    /// backing values at least what it valued before.
    #[test]
    fn honest_relays_lose_at_most_the_farmers_share(
        honest in prop::collection::vec(relay(1 << 40, false), 1..5),
        farmer in prop::collection::vec(relay(1 << 42, true), 1..4),
        terms in terms(),
        backing in backing(),
    ) {
        let alone = epoch(&honest, &[], &terms, &backing);
        let joined = epoch(&honest, &farmer, &terms, &backing);
        prop_assert!(joined.emission >= alone.emission);
        for (with, without) in joined.honest.iter().zip(&alone.honest) {
            let (with, without) = (u128::from(*with) + 1, u128::from(*without));
            let by_bytes = with * u128::from(joined.reward_bytes)
                >= without * u128::from(alone.reward_bytes);
            let by_stake = with * u128::from(joined.stake) >= without * u128::from(alone.stake);
            prop_assert!(by_bytes || by_stake, "{with} with, {without} without the farmer");
        }
    }

    /// E is within every cap and the rewards within E.
    #[test]
    fn emission_is_within_every_cap(
        honest in prop::collection::vec(relay(1 << 40, false), 0..5),
        farmer in prop::collection::vec(relay(1 << 42, true), 0..4),
        terms in terms(),
        backing in backing(),
    ) {
        let out = epoch(&honest, &farmer, &terms, &backing);
        prop_assert!(out.emission <= terms.emission_per_epoch);
        prop_assert!(out.emission <= terms.unreserved);
        prop_assert!(
            u128::from(out.emission) << 30
                <= u128::from(out.reward_bytes) * u128::from(terms.max_reward_per_gib)
        );
        prop_assert!(out.emission <= out.fee_backed);
        prop_assert!(out.valued <= backing.per_epoch.min(backing.remaining));
        // The fee-backed cap never exceeds κ of the valued revenue's MEDIA value.
        prop_assert!(
            u128::from(out.fee_backed) * (1u128 << PRICE_SHIFT) * BPS
                <= u128::from(out.valued) * u128::from(backing.price) * u128::from(terms.kappa_bps)
        );
        let paid: u64 = out.honest.iter().chain(&out.farmer).sum();
        prop_assert!(paid <= out.emission);
    }
}

/// A farmer's choices over a run of epochs with buy-back auctions.
#[derive(Debug, Clone)]
struct FarmerPlan {
    /// Wash bytes per epoch through its own relay, for each buy-back period (so it can keep
    /// a lot small, raise its price, then wash a lot).
    wash: Vec<u64>,
    /// Of each lot, what it buys at the start price when that is above market (per mille).
    pump_permille: u64,
}

/// Runs `lots` buy-back periods of `epochs_per_lot` epochs: the treasury's revenue is
/// auctioned (the farmer may buy part at the start price, above market; arbitrageurs buy the
/// rest as soon as the price falls to the market price), and each epoch is finalized against
/// the backing the last lot left. Returns (MEDIA emitted, MEDIA burned, farmer P&L in MEDIA
/// base units x 2^32).
fn run(
    honest_bytes: u64,
    strategy: &FarmerPlan,
    terms: &Terms,
    market: u64,
    epochs_per_lot: u64,
    lots: u64,
) -> (u128, u128, i128) {
    let params = BuybackParams {
        interval_secs: 1_000,
        duration_secs: 1_000,
        min_lot: 1,
        min_bid: 1,
        start_multiplier: 2,
        floor_divisor: 2,
        initial_reference_price: market,
    };
    let mut buyback = Buyback::new(0, market);
    let honest = [Relay {
        bond: 1_000_000_000,
        receipts: vec![honest_bytes],
        eligible_permille: 1_000,
    }];
    let (mut emitted, mut burned, mut pnl) = (0u128, 0u128, 0i128);
    let mut treasury = 0u64;
    let one = 1i128 << PRICE_SHIFT;
    for lot in 0..lots {
        let wash = strategy.wash[lot as usize % strategy.wash.len()];
        let farmer = [Relay {
            bond: 25_000_000,
            receipts: vec![wash],
            eligible_permille: 1_000,
        }];
        if treasury > 0 {
            let now = i64::try_from(lot).unwrap() * 1_000;
            buyback.start(now, treasury, &params).unwrap();
            treasury = 0;
            let start = buyback.start_price;
            if start > market && strategy.pump_permille > 0 {
                let amount = (buyback.remaining / 1_000 * strategy.pump_permille).max(1);
                let fill = buyback.fill(now, amount, u64::MAX, &params).unwrap();
                burned += u128::from(fill.media);
                // Paid `media` for `payment` units worth `payment x market` at market.
                pnl -= i128::from(fill.media) * one - i128::from(fill.payment) * i128::from(market);
            }
            if buyback.active {
                // Arbitrageurs take the rest once the price is at or below the market price.
                let at = (0..1_000)
                    .map(|t| now + t)
                    .find(|&t| buyback.price(t) <= market);
                match at {
                    Some(t) => {
                        let fill = buyback.fill(t, u64::MAX, market, &params).unwrap();
                        burned += u128::from(fill.media);
                    }
                    None => treasury += buyback.close_lot(now + 1_000).unwrap(),
                }
            }
        }
        let mut backing_left = buyback.backing(epochs_per_lot);
        for _ in 0..epochs_per_lot {
            let out = epoch(&honest, &farmer, terms, &backing_left);
            backing_left.remaining -= out.valued;
            buyback.use_backing(out.valued).unwrap();
            emitted += u128::from(out.emission);
            treasury += out.treasury;
            // Its fee comes back to it but for the treasury's share, worth the market price.
            pnl += i128::from(out.farmer[0]) * one
                - i128::from(out.farmer_treasury) * i128::from(market);
        }
    }
    (emitted, burned, pnl)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Across auctions, emission never exceeds the MEDIA burned, and no farmer strategy
    /// (wash volume, buying part of each lot above market to raise the backing price) ends
    /// with a positive P&L at the market price.
    #[test]
    fn supply_never_grows_and_farming_never_profits(
        honest_bytes in 1u64..=1 << 40,
        wash in prop::collection::vec(0u64..=1 << 44, 1..=5),
        pump_permille in 0u64..=1_000,
        terms in terms(),
        market in 1u64 << 20..=1 << 40,
        epochs_per_lot in 1u64..=6,
    ) {
        let strategy = FarmerPlan { wash, pump_permille };
        let (emitted, burned, pnl) = run(honest_bytes, &strategy, &terms, market, epochs_per_lot, 5);
        prop_assert!(emitted <= burned, "emitted {emitted} > burned {burned}");
        prop_assert!(pnl <= 0, "the farmer made {pnl} (x 2^-32 MEDIA units)");
    }
}

#[test]
fn a_pumped_lot_backs_only_its_volume() {
    // The farmer buys a tenth of each lot at twice the market: the backing price rises, but
    // the volume it backs is what was sold, so the extra it can unlock is at most what it
    // overpaid.
    let market = 1u64 << 32;
    let terms = Terms {
        price_per_gib: 10_000,
        provider_bps: 8_000,
        keeper_bps: 200,
        kappa_bps: 10_000,
        emission_per_epoch: u64::MAX,
        unreserved: u64::MAX,
        max_reward_per_gib: u64::MAX,
    };
    // Little traffic while the lot that sets the price is sold, then a flood of wash.
    let strategy = FarmerPlan {
        wash: vec![GIB, 1 << 44, 1 << 44, 1 << 44],
        pump_permille: 100,
    };
    let (emitted, burned, pnl) = run(GIB, &strategy, &terms, market, 2, 4);
    assert!(emitted <= burned && pnl <= 0, "{emitted} {burned} {pnl}");
}
