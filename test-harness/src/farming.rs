//! The farming simulation (issue 15, docs/economics.md): the real programs, run natively in
//! program-test, through a number of epochs with two honest relays serving an honest
//! publisher, an arbitrageur who buys buy-back lots at the market price, and a farmer who owns
//! a relay, the publisher that pays it and the keeper that settles its receipts, so every fee
//! it pays comes back to it but the treasury's share. Each epoch the farmer washes some bytes
//! through its relay and may buy part of a lot at the start price (above market) to raise the
//! price the protocol values revenue at. The table it yields shows, per epoch, the farmer's
//! cumulative P&L valued at the market price, the honest relays' rewards, the emission and
//! the MEDIA burned.
use crate::market::{Market, GIB};
use crate::{test_params, TestEnv, MEDIA};
use media_network::state::{Buyback, BuybackParams, Epoch, Keeper, Params};
use media_sdk::{ix, pda};
use solana_signer::Signer;

/// The market price: one MEDIA base unit per payment base unit (Q32.32).
pub const MARKET_PRICE: u64 = 1 << 32;
/// Honest traffic per epoch, split over the two honest relays.
pub const HONEST_BYTES_PER_EPOCH: u64 = 50 * GIB;
const BOND: u64 = 900 * MEDIA;

/// What the farmer does.
#[derive(Debug, Clone)]
pub struct FarmerStrategy {
    pub name: &'static str,
    /// Wash bytes per epoch (the last value repeats).
    pub wash: Vec<u64>,
    /// Of each lot, the share (per mille) it buys at the start price while that is above the
    /// market price but at most twice it (beyond, the pump costs more than it could ever
    /// return, and the price would double with every lot).
    pub pump_permille: u64,
}

/// The highest start price the farmer pumps at.
pub const PUMP_MAX_PRICE: u64 = 2 * MARKET_PRICE;

impl FarmerStrategy {
    fn wash_in(&self, epoch: u64) -> u64 {
        let i = usize::try_from(epoch).unwrap_or(usize::MAX);
        *self.wash.get(i).or(self.wash.last()).unwrap_or(&0)
    }
}

/// The strategies the simulation tries: none (the honest baseline), wash trading, wash trading
/// while pumping every lot, and little traffic while a pumped lot sets the price followed by a
/// flood of wash.
pub fn strategies() -> Vec<FarmerStrategy> {
    vec![
        FarmerStrategy {
            name: "none",
            wash: vec![0],
            pump_permille: 0,
        },
        FarmerStrategy {
            name: "wash",
            wash: vec![200 * GIB],
            pump_permille: 0,
        },
        FarmerStrategy {
            name: "wash+pump",
            wash: vec![200 * GIB],
            pump_permille: 1_000,
        },
        FarmerStrategy {
            name: "ramp+pump",
            wash: vec![GIB, GIB, GIB, 800 * GIB],
            pump_permille: 1_000,
        },
    ]
}

/// One epoch of the simulation, after its advance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub epoch: u64,
    /// The farmer's wealth change since the start, in MEDIA base units at the market price
    /// (payment units count one to one).
    pub farmer_pnl: i128,
    /// MEDIA the honest relays accrued so far.
    pub honest_rewards: u64,
    /// E of the epoch finalized by this advance.
    pub emission: u64,
    /// Emission and MEDIA burned by auctions, both since the start.
    pub emitted: u64,
    pub burned: u64,
}

/// The protocol's parameters in the simulation: test durations (10-minute epochs), a lot every
/// two epochs, auctioned over one.
pub fn params() -> Params {
    let epoch = test_params().epoch_duration_secs;
    Params {
        buyback: BuybackParams {
            interval_secs: 2 * epoch,
            duration_secs: epoch,
            min_lot: 1,
            min_bid: 1,
            start_multiplier: 2,
            floor_divisor: 2,
            initial_reference_price: MARKET_PRICE,
        },
        ..test_params()
    }
}

struct World {
    m: Market,
    farmer_relay: usize,
    farmer_publisher: usize,
    arbitrageur: crate::Wallet,
    /// The farmer's MEDIA for pumping auctions.
    bidder: crate::Wallet,
}

const HONEST_RELAYS: [usize; 2] = [0, 1];
const HONEST_PUBLISHER: usize = 0;

impl World {
    async fn open(params: Params) -> World {
        let env = TestEnv::initialized(params).await;
        let mut m = Market::new(env).await;
        for _ in HONEST_RELAYS {
            m.add_relay_with_bond(BOND).await;
        }
        let farmer_relay = m.add_relay_with_bond(BOND).await;
        m.add_publisher(BOND, 100_000 * MEDIA).await;
        let farmer_publisher = m.add_publisher(BOND, 100_000 * MEDIA).await;
        for relay in HONEST_RELAYS {
            m.open_lane(relay, HONEST_PUBLISHER).await.unwrap();
        }
        m.open_lane(farmer_relay, farmer_publisher).await.unwrap();
        m.env.fund_reward_vault(1_000_000 * MEDIA).await;
        let arbitrageur = m.env.wallet(1_000_000 * MEDIA).await;
        let bidder = m.env.wallet(1_000_000 * MEDIA).await;
        m.advance_epoch().await;
        World {
            m,
            farmer_relay,
            farmer_publisher,
            arbitrageur,
            bidder,
        }
    }

    /// The farmer's wealth: its wallets' tokens, its escrow and everything claimable, with
    /// payment units at the market price (one to one).
    async fn farmer_wealth(&mut self) -> i128 {
        let relay = &self.m.relays[self.farmer_relay];
        let publisher = &self.m.publishers[self.farmer_publisher];
        let accounts = [
            relay.owner.media,
            relay.owner.payment,
            publisher.owner.media,
            publisher.owner.payment,
            self.bidder.media,
            self.bidder.payment,
        ];
        let owner = relay.owner.pubkey();
        let mut wealth = 0i128;
        for account in accounts {
            wealth += i128::from(self.m.env.token_balance(&account).await);
        }
        wealth += i128::from(self.m.consumer(self.farmer_publisher).await.escrow);
        let provider = self.m.provider(self.farmer_relay).await;
        wealth += i128::from(provider.fees_claimable) + i128::from(provider.rewards_claimable);
        if let Some(keeper) = self.m.env.try_get::<Keeper>(&pda::keeper(&owner)).await {
            wealth += i128::from(keeper.fees_claimable);
        }
        wealth
    }

    /// Settles the epoch's honest traffic (by the honest keeper) and the farmer's wash (by the
    /// farmer's own keeper, so the keeper share comes back to it).
    async fn settle(&mut self, epoch: u64, wash: u64) {
        let half = HONEST_BYTES_PER_EPOCH / 2;
        let honest: Vec<_> = HONEST_RELAYS
            .iter()
            .map(|&r| (r, self.m.signed(r, HONEST_PUBLISHER, epoch, half)))
            .collect();
        self.m.settle(&honest).await.unwrap();
        if wash > 0 {
            let farmer = self.m.relays[self.farmer_relay]
                .owner
                .keypair
                .insecure_clone();
            let signed = self
                .m
                .signed(self.farmer_relay, self.farmer_publisher, epoch, wash);
            let relay = self.farmer_relay;
            self.m.settle_as(&farmer, &[(relay, signed)]).await.unwrap();
        }
    }

    /// Auctions the treasury when a lot is due: the farmer may buy its share at the start
    /// price, then the arbitrageur buys the rest once the price is at the market price.
    async fn auction(&mut self, pump_permille: u64) {
        let media_mint = self.m.env.media_mint;
        let b: Buyback = self.m.env.get(&pda::buyback()).await;
        if b.active {
            if self.m.env.now().await >= b.ends_at {
                self.m.send_as_keeper(&[ix::close_buyback()]).await.unwrap();
            }
            return;
        }
        let now = self.m.env.now().await;
        let config = self.m.env.config().await;
        let (params, treasury) = (config.params, config.treasury_accrued);
        let due = now.saturating_sub(b.last_started_at) >= params.buyback.interval_secs;
        if !due || treasury < params.buyback.min_lot {
            return;
        }
        self.m.send_as_keeper(&[ix::start_buyback()]).await.unwrap();
        let b: Buyback = self.m.env.get(&pda::buyback()).await;
        if pump_permille > 0 && b.start_price > MARKET_PRICE && b.start_price <= PUMP_MAX_PRICE {
            let farmer = &self.bidder;
            let amount = (b.lot / 1_000 * pump_permille).max(1);
            let bid = ix::bid_buyback(
                &farmer.pubkey(),
                &media_mint,
                &farmer.media,
                &farmer.payment,
                amount,
                u64::MAX,
            );
            let keypair = farmer.keypair.insecure_clone();
            self.m.env.send(&[bid], &[&keypair]).await.unwrap();
        }
        let b: Buyback = self.m.env.get(&pda::buyback()).await;
        if !b.active {
            return;
        }
        // Wait for the price to fall to the market price, if it does before the end.
        let now = self.m.env.now().await;
        let wait = (0..b.ends_at - now).find(|&t| b.price(now + t) <= MARKET_PRICE);
        if let Some(wait) = wait {
            self.m.env.advance_clock(wait).await;
            let bid = ix::bid_buyback(
                &self.arbitrageur.pubkey(),
                &media_mint,
                &self.arbitrageur.media,
                &self.arbitrageur.payment,
                u64::MAX,
                MARKET_PRICE,
            );
            let keypair = self.arbitrageur.keypair.insecure_clone();
            self.m.env.send(&[bid], &[&keypair]).await.unwrap();
        }
    }

    /// Accrues every relay's slot of the finalized `epoch` and has the farmer claim.
    async fn accrue_and_claim(&mut self, epoch: u64) {
        for relay in 0..self.m.relays.len() {
            let provider = self.m.provider(relay).await;
            let slot = provider.reward_slots[(epoch % 2) as usize];
            if slot.epoch == epoch && slot.bytes > 0 {
                self.m.accrue(relay, epoch).await.unwrap();
            }
        }
        let farmer = &self.m.relays[self.farmer_relay].owner;
        let owner = farmer.keypair.insecure_clone();
        let (media, payment) = (farmer.media, farmer.payment);
        let provider = self.m.provider(self.farmer_relay).await;
        if provider.rewards_claimable > 0 {
            let claim = ix::claim_rewards(&owner.pubkey(), &media);
            self.m.env.send(&[claim], &[&owner]).await.unwrap();
        }
        if provider.fees_claimable > 0 {
            let claim = ix::claim_provider_fees(&owner.pubkey(), &payment);
            self.m.env.send(&[claim], &[&owner]).await.unwrap();
        }
        let keeper = self
            .m
            .env
            .try_get::<Keeper>(&pda::keeper(&owner.pubkey()))
            .await;
        if keeper.is_some_and(|k| k.fees_claimable > 0) {
            let claim = ix::claim_keeper_fees(&owner.pubkey(), &payment);
            self.m.env.send(&[claim], &[&owner]).await.unwrap();
        }
    }

    async fn honest_rewards(&mut self) -> u64 {
        let mut total = 0;
        for relay in HONEST_RELAYS {
            let p = self.m.provider(relay).await;
            total += p.rewards_claimable;
        }
        total
    }
}

/// Runs `strategy` for `epochs` epochs of traffic and two more to finalize the last ones.
pub async fn simulate(strategy: &FarmerStrategy, epochs: u64) -> Vec<Row> {
    let mut world = World::open(params()).await;
    let start = world.farmer_wealth().await;
    let mut rows = Vec::new();
    let mut emitted = 0u64;
    for step in 0..epochs + 2 {
        world.m.env.refresh_blockhash().await;
        let epoch = world.m.env.config().await.epoch;
        if step < epochs {
            world.settle(epoch, strategy.wash_in(step)).await;
        }
        world.auction(strategy.pump_permille).await;
        world.m.advance_epoch().await;
        let mut emission = 0;
        if let Some(finalized) = epoch.checked_sub(1) {
            let e: Epoch = world.m.env.get(&pda::epoch(finalized)).await;
            emission = e.emission;
            emitted += emission;
            world.accrue_and_claim(finalized).await;
        }
        let b: Buyback = world.m.env.get(&pda::buyback()).await;
        rows.push(Row {
            epoch,
            farmer_pnl: world.farmer_wealth().await - start,
            honest_rewards: world.honest_rewards().await,
            emission,
            emitted,
            burned: b.total_media_burned,
        });
    }
    rows
}

/// The rows as a fixed-width table.
pub fn table(strategy: &FarmerStrategy, rows: &[Row]) -> String {
    let mut out = format!(
        "strategy {:<10}\n{:>5} {:>16} {:>16} {:>12} {:>14} {:>14}\n",
        strategy.name, "epoch", "farmer P&L", "honest rewards", "emission", "emitted", "burned"
    );
    for r in rows {
        out.push_str(&format!(
            "{:>5} {:>16} {:>16} {:>12} {:>14} {:>14}\n",
            r.epoch, r.farmer_pnl, r.honest_rewards, r.emission, r.emitted, r.burned
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every strategy the simulation tries ends with a P&L ≤ 0 for the farmer, emission never
    /// exceeds the MEDIA burned, and honest relays keep earning.
    #[tokio::test]
    async fn no_farming_strategy_profits_and_emission_stays_below_the_burn() {
        let mut honest_without_farmer = None;
        for strategy in strategies() {
            let rows = simulate(&strategy, 6).await;
            let last = rows.last().unwrap();
            for row in &rows {
                assert!(row.emitted <= row.burned, "{}: {row:?}", strategy.name);
            }
            assert!(
                last.farmer_pnl <= 0,
                "{}: {}",
                strategy.name,
                table(&strategy, &rows)
            );
            assert!(last.emitted > 0, "{}: nothing was emitted", strategy.name);
            match honest_without_farmer {
                None => honest_without_farmer = Some(last.honest_rewards),
                Some(alone) => assert!(
                    last.honest_rewards > 0 && last.honest_rewards * 2 >= alone,
                    "{}: honest relays got {} (alone {alone})",
                    strategy.name,
                    last.honest_rewards
                ),
            }
        }
    }
}
