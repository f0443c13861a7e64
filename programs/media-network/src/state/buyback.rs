use super::BuybackParams;
use crate::auction;
use crate::errors::MediaError;
use crate::math::SafeMath;
use crate::rewards::Backing;
use anchor_lang::prelude::*;

/// The buy-back auction house, `["buyback"]`: at most one lot at a time.
#[account]
#[derive(InitSpace, Debug)]
pub struct Buyback {
    pub bump: u8,
    /// Q32.32 MEDIA base units per payment base unit the next lot is priced from.
    pub reference_price: u64,
    /// When the last lot started (rate limit: one per `interval_secs`).
    pub last_started_at: i64,
    pub active: bool,
    /// Payment-mint units the running lot offers, and what is left of it.
    pub lot: u64,
    pub remaining: u64,
    /// Payment-mint units sold from the running lot, and the MEDIA burned for them.
    pub sold: u64,
    pub media_burned: u64,
    pub start_price: u64,
    pub floor_price: u64,
    pub started_at: i64,
    pub ends_at: i64,
    pub auctions: u64,
    /// MEDIA burned by all auctions so far.
    pub total_media_burned: u64,
    /// What the last lot that sold anything says payment units are worth for the fee-backed
    /// reward cap: Q32.32, at most the reference price and the lot's own average.
    pub backing_price: u64,
    /// Payment units that lot sold, and those not yet valued by a finalized epoch: the cap
    /// values at most what bidders really paid MEDIA for.
    pub backing_volume: u64,
    pub backing_remaining: u64,
}

/// One filled bid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill {
    pub payment: u64,
    pub media: u64,
    pub price: u64,
}

impl Buyback {
    pub fn new(bump: u8, reference_price: u64) -> Self {
        Buyback {
            bump,
            reference_price,
            last_started_at: i64::MIN,
            active: false,
            lot: 0,
            remaining: 0,
            sold: 0,
            media_burned: 0,
            start_price: 0,
            floor_price: 0,
            started_at: 0,
            ends_at: 0,
            auctions: 0,
            total_media_burned: 0,
            backing_price: 0,
            backing_volume: 0,
            backing_remaining: 0,
        }
    }

    /// Opens a lot of `lot` payment units at `now`.
    pub fn start(&mut self, now: i64, lot: u64, params: &BuybackParams) -> Result<()> {
        require!(!self.active, MediaError::AuctionActive);
        require!(
            now.saturating_sub(self.last_started_at) >= params.interval_secs,
            MediaError::BuybackTooSoon
        );
        require!(lot >= params.min_lot, MediaError::LotTooSmall);
        self.start_price = auction::start_price(self.reference_price, params.start_multiplier)?;
        self.floor_price = auction::floor_price(self.reference_price, params.floor_divisor);
        self.active = true;
        self.lot = lot;
        self.remaining = lot;
        self.sold = 0;
        self.media_burned = 0;
        self.started_at = now;
        self.ends_at = now.safe_add(params.duration_secs)?;
        self.last_started_at = now;
        self.auctions = self.auctions.safe_add(1)?;
        Ok(())
    }

    pub fn price(&self, now: i64) -> u64 {
        auction::current_price(
            self.start_price,
            self.floor_price,
            self.started_at,
            self.ends_at - self.started_at,
            now,
        )
    }

    /// Sells up to `amount` payment units at the current price if it is at most `max_price`.
    /// A bid below `min_bid` is refused unless it takes the whole remainder.
    pub fn fill(
        &mut self,
        now: i64,
        amount: u64,
        max_price: u64,
        params: &BuybackParams,
    ) -> Result<Fill> {
        require!(self.active, MediaError::NoAuction);
        require!(now < self.ends_at, MediaError::AuctionExpired);
        let payment = amount.min(self.remaining);
        require!(
            payment > 0 && (payment >= params.min_bid || payment == self.remaining),
            MediaError::BidTooSmall
        );
        let price = self.price(now);
        require!(price <= max_price, MediaError::PriceAboveLimit);
        let media = auction::media_owed(payment, price)?;
        self.remaining -= payment;
        self.sold = self.sold.safe_add(payment)?;
        self.media_burned = self.media_burned.safe_add(media)?;
        self.total_media_burned = self.total_media_burned.safe_add(media)?;
        if self.remaining == 0 {
            self.finish();
        }
        Ok(Fill {
            payment,
            media,
            price,
        })
    }

    /// Ends an expired lot; returns the unsold payment units (back to the treasury).
    pub fn close_lot(&mut self, now: i64) -> Result<u64> {
        require!(self.active, MediaError::NoAuction);
        require!(now >= self.ends_at, MediaError::AuctionNotExpired);
        let unsold = self.remaining;
        self.remaining = 0;
        self.finish();
        Ok(unsold)
    }

    fn finish(&mut self) {
        self.reference_price =
            auction::next_reference(self.lot, self.sold, self.media_burned, self.floor_price);
        self.active = false;
        // A lot that sold nothing has no price to trust: the last lot that sold keeps backing
        // what it has left (its total use stays within its own sold volume).
        if self.sold > 0 {
            let average = auction::average_price(self.sold, self.media_burned);
            self.backing_price = average.min(self.reference_price);
            self.backing_volume = self.sold;
            self.backing_remaining = self.sold;
        }
    }

    /// The backing an epoch finalized now may use: the last lot's volume, spread over the
    /// `epochs_per_lot` epochs one lot covers, so wash traffic in one epoch cannot use up
    /// what later epochs' honest revenue needs.
    pub fn backing(&self, epochs_per_lot: u64) -> Backing {
        Backing {
            price: self.backing_price,
            per_epoch: self.backing_volume.div_ceil(epochs_per_lot.max(1)),
            remaining: self.backing_remaining,
        }
    }

    /// Records `valued` payment units as used by a finalized epoch.
    pub fn use_backing(&mut self, valued: u64) -> Result<()> {
        self.backing_remaining = self.backing_remaining.safe_sub(valued)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Params;

    const ONE: u64 = 1 << 32;

    fn params() -> BuybackParams {
        BuybackParams {
            interval_secs: 1_000,
            duration_secs: 100,
            min_lot: 1_000,
            min_bid: 100,
            start_multiplier: 2,
            floor_divisor: 2,
            initial_reference_price: ONE,
        }
    }

    #[test]
    fn a_lot_sells_out_and_sets_the_reference_to_its_average_price() {
        let p = params();
        let mut b = Buyback::new(0, ONE);
        b.start(0, 2_000, &p).unwrap();
        assert_eq!(
            b.start(1, 2_000, &p).unwrap_err(),
            error!(MediaError::AuctionActive)
        );
        // At the start: 2.0 MEDIA per unit.
        let fill = b.fill(0, 1_000, 2 * ONE, &p).unwrap();
        assert_eq!(
            fill,
            Fill {
                payment: 1_000,
                media: 2_000,
                price: 2 * ONE
            }
        );
        // Half-way: 1.25.
        assert_eq!(
            b.fill(50, 5_000, ONE, &p).unwrap_err(),
            error!(MediaError::PriceAboveLimit)
        );
        let fill = b.fill(50, 5_000, 2 * ONE, &p).unwrap();
        assert_eq!(
            fill,
            Fill {
                payment: 1_000,
                media: 1_250,
                price: ONE + ONE / 4
            }
        );
        assert!(!b.active);
        assert_eq!(b.reference_price, (3_250u64 << 32) / 2_000);
    }

    #[test]
    fn small_bids_and_timing_rules() {
        let p = params();
        let mut b = Buyback::new(0, ONE);
        assert_eq!(
            b.start(0, 999, &p).unwrap_err(),
            error!(MediaError::LotTooSmall)
        );
        b.start(0, 1_050, &p).unwrap();
        assert_eq!(
            b.fill(0, 99, u64::MAX, &p).unwrap_err(),
            error!(MediaError::BidTooSmall)
        );
        b.fill(0, 1_000, u64::MAX, &p).unwrap();
        // 50 left: below min_bid, but it is the whole remainder.
        assert_eq!(b.fill(1, 50, u64::MAX, &p).unwrap().payment, 50);
        assert_eq!(
            b.start(500, 5_000, &p).unwrap_err(),
            error!(MediaError::BuybackTooSoon)
        );
        b.start(1_000, 5_000, &p).unwrap();
        assert_eq!(
            b.fill(1_100, 5_000, u64::MAX, &p).unwrap_err(),
            error!(MediaError::AuctionExpired)
        );
        assert_eq!(
            b.close_lot(1_099).unwrap_err(),
            error!(MediaError::AuctionNotExpired)
        );
    }

    #[test]
    fn an_unsold_lot_lowers_the_reference_and_a_dust_sale_barely_lifts_it() {
        let p = params();
        let mut b = Buyback::new(0, ONE);
        b.start(0, 1_000, &p).unwrap();
        assert_eq!(b.close_lot(100).unwrap(), 1_000);
        assert_eq!(b.reference_price, ONE / 2);
        // M-2: 100 of 5,000 sold at the start price (1.0); the rest counts at the floor (0.25).
        b.start(1_000, 5_000, &p).unwrap();
        b.fill(1_000, 100, u64::MAX, &p).unwrap();
        assert_eq!(b.close_lot(1_100).unwrap(), 4_900);
        assert_eq!(
            b.reference_price,
            ((100u128 << 32) + 4_900 * u128::from(ONE / 4)) as u64 / 5_000
        );
        assert!(b.reference_price < ONE / 2 * 3 / 4);
        assert_eq!(
            b.close_lot(1_200).unwrap_err(),
            error!(MediaError::NoAuction)
        );
        Params::default().buyback.validate().unwrap();
    }
}
