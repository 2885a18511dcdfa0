//! Revenue for partners: settled amounts by program, month and meter,
//! preliminary vs final, the platform's fee and the partner's net, missed
//! revenue, projected customer payments; CSV export with stable columns.
//!
//! Amounts come from the *current* settlement runs. For a (program, month)
//! that a current final run covers, the final amount counts (a meter absent
//! from the market's statement got nothing); otherwise the preliminary one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::pagination::{Page, PageRequest};
use super::settlement::{from_cents, months_between, SettlementKind};
use crate::auth::{Principal, Tenant};
use crate::db::Db;
use crate::domain::{string_enum, Role};
use crate::entity::{
    meter, partner_revenue_terms, program, settlement_line, settlement_meter, settlement_run,
};
use crate::error::{ApiError, ApiResult};

string_enum! {
    /// What a revenue report groups by (partner is always a dimension).
    pub enum RevenueDimension {
        Program => "PROGRAM",
        Month => "MONTH",
        Meter => "METER",
    }
}

/// A partner's terms; without a record, no fee and everything to customers.
#[derive(Debug, Clone, PartialEq)]
pub struct Terms {
    pub partner_id: String,
    pub platform_fee_percent: Decimal,
    pub customer_share_percent: Decimal,
}

#[derive(Debug, Clone, Default)]
pub struct RevenueFilter {
    pub program_id: Option<String>,
    /// `YYYY-MM`, inclusive.
    pub from_month: Option<String>,
    pub to_month: Option<String>,
    pub meter_id: Option<String>,
}

/// One row of a report; absent dimensions are `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct RevenueRow {
    /// Sort and cursor key.
    pub key: String,
    pub partner_id: String,
    pub program_id: Option<String>,
    pub program_code: Option<String>,
    pub month: Option<String>,
    pub meter_id: Option<String>,
    pub external_id: Option<String>,
    pub preliminary_cents: i64,
    /// Present when the market's final numbers cover every part of the row.
    pub final_cents: Option<i64>,
    /// Final where known, else preliminary.
    pub amount_cents: i64,
    pub platform_fee_cents: i64,
    pub partner_net_cents: i64,
    /// What full performance would have earned beyond the preliminary amount.
    pub missed_cents: i64,
}

/// (partner, program, month, meter) with the dimensions not grouped by empty.
type GroupKey = (String, Option<String>, Option<String>, Option<String>);

/// The stable CSV header of every revenue export.
pub const CSV_HEADER: &str = "partner_id,program_code,month,meter_id,external_id,preliminary_usd,final_usd,amount_usd,platform_fee_usd,partner_net_usd,missed_usd";

#[derive(Clone)]
pub struct RevenueService {
    db: Db,
}

/// Settled amounts of one (partner, program, month, meter).
#[derive(Debug, Default, Clone)]
struct Cell {
    preliminary: i64,
    final_cents: i64,
    final_covered: bool,
    full: i64,
}

impl RevenueService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn terms(&self, principal: &Principal, partner_id: Option<&str>) -> ApiResult<Terms> {
        principal.require(&[Role::Partner, Role::Admin])?;
        let partner = principal.acting_partner(partner_id)?;
        Ok(self
            .terms_of(std::slice::from_ref(&partner))
            .await?
            .remove(&partner)
            .unwrap_or_else(|| default_terms(&partner)))
    }

    async fn terms_of(&self, partners: &[String]) -> ApiResult<HashMap<String, Terms>> {
        let rows = partner_revenue_terms::Entity::find()
            .filter(partner_revenue_terms::Column::PartnerId.is_in(partners.iter().cloned()))
            .all(self.db.conn())
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let terms = Terms {
                    partner_id: r.partner_id.clone(),
                    platform_fee_percent: Decimal::from_str(&r.platform_fee_percent)
                        .unwrap_or_default(),
                    customer_share_percent: Decimal::from_str(&r.customer_share_percent)
                        .unwrap_or(Decimal::ONE_HUNDRED),
                };
                (r.partner_id, terms)
            })
            .collect())
    }

    /// Sets a partner's platform fee and customer share, in percent (ADMIN).
    pub async fn set_terms(
        &self,
        principal: &Principal,
        partner_id: &str,
        platform_fee_percent: Decimal,
        customer_share_percent: Decimal,
    ) -> ApiResult<Terms> {
        principal.require(&[Role::Admin])?;
        for (field, v) in [
            ("platformFeePercent", platform_fee_percent),
            ("customerSharePercent", customer_share_percent),
        ] {
            if v < Decimal::ZERO || v > Decimal::ONE_HUNDRED {
                return Err(ApiError::validation(field, "must be between 0 and 100"));
            }
        }
        crate::entity::partner::Entity::find_by_id(partner_id.to_owned())
            .one(self.db.conn())
            .await?
            .ok_or_else(|| ApiError::not_found("partner", partner_id))?;
        let txn = self.db.begin_write().await?;
        let existing = partner_revenue_terms::Entity::find_by_id(partner_id.to_owned())
            .one(&*txn)
            .await?;
        let row = partner_revenue_terms::ActiveModel {
            partner_id: Set(partner_id.to_owned()),
            platform_fee_percent: Set(platform_fee_percent.normalize().to_string()),
            customer_share_percent: Set(customer_share_percent.normalize().to_string()),
            updated_by: Set(principal.key_id.clone()),
            updated_at: Set(Utc::now()),
        };
        if existing.is_some() {
            row.update(&*txn).await?;
        } else {
            row.insert(&*txn).await?;
        }
        txn.commit().await?;
        Ok(Terms {
            partner_id: partner_id.to_owned(),
            platform_fee_percent,
            customer_share_percent,
        })
    }

    /// Every row of a report, sorted by key.
    pub async fn report(
        &self,
        principal: &Principal,
        partner_id: Option<&str>,
        filter: &RevenueFilter,
        group_by: &[RevenueDimension],
    ) -> ApiResult<Vec<RevenueRow>> {
        principal.require(&[Role::Partner, Role::Admin])?;
        let tenant = principal.tenant(partner_id)?;
        let cells = self.cells(&tenant, filter).await?;
        let programs: HashMap<String, program::Model> = program::Entity::find()
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let by_meter = group_by.contains(&RevenueDimension::Meter);
        let meters: HashMap<String, String> = if by_meter {
            let ids: Vec<String> = cells
                .keys()
                .map(|k| k.3.clone())
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            let mut out = HashMap::new();
            for chunk in ids.chunks(500) {
                for m in meter::Entity::find()
                    .filter(meter::Column::Id.is_in(chunk.iter().cloned()))
                    .all(self.db.conn())
                    .await?
                {
                    out.insert(m.id, m.external_id);
                }
            }
            out
        } else {
            HashMap::new()
        };
        let partners: Vec<String> = cells
            .keys()
            .map(|k| k.0.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let terms = self.terms_of(&partners).await?;

        // Group cells by the asked dimensions.
        struct Acc {
            preliminary: i64,
            final_cents: i64,
            all_final: bool,
            amount: i64,
            missed: i64,
        }
        let mut groups: BTreeMap<GroupKey, Acc> = BTreeMap::new();
        for ((partner, program_id, month, meter_id), c) in cells {
            let key = (
                partner,
                group_by
                    .contains(&RevenueDimension::Program)
                    .then_some(program_id),
                group_by.contains(&RevenueDimension::Month).then_some(month),
                by_meter.then_some(meter_id),
            );
            let acc = groups.entry(key).or_insert(Acc {
                preliminary: 0,
                final_cents: 0,
                all_final: true,
                amount: 0,
                missed: 0,
            });
            acc.preliminary += c.preliminary;
            acc.final_cents += c.final_cents;
            acc.all_final &= c.final_covered;
            acc.amount += if c.final_covered {
                c.final_cents
            } else {
                c.preliminary
            };
            acc.missed += (c.full - c.preliminary).max(0);
        }
        let mut rows: Vec<RevenueRow> = groups
            .into_iter()
            .map(|((partner, program_id, month, meter_id), acc)| {
                let t = terms
                    .get(&partner)
                    .cloned()
                    .unwrap_or_else(|| default_terms(&partner));
                let fee = percent_of(acc.amount, t.platform_fee_percent);
                let program_code = program_id
                    .as_ref()
                    .and_then(|p| programs.get(p))
                    .map(|p| p.code.clone());
                RevenueRow {
                    key: format!(
                        "{partner}|{}|{}|{}",
                        program_code.as_deref().unwrap_or(""),
                        month.as_deref().unwrap_or(""),
                        meter_id.as_deref().unwrap_or("")
                    ),
                    external_id: meter_id.as_ref().and_then(|m| meters.get(m).cloned()),
                    partner_id: partner,
                    program_id,
                    program_code,
                    month,
                    meter_id,
                    preliminary_cents: acc.preliminary,
                    final_cents: acc.all_final.then_some(acc.final_cents),
                    amount_cents: acc.amount,
                    platform_fee_cents: fee,
                    partner_net_cents: acc.amount - fee,
                    missed_cents: acc.missed,
                }
            })
            .collect();
        rows.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(rows)
    }

    /// One page of a report (Relay, keyed by the row key).
    pub async fn page(
        &self,
        principal: &Principal,
        partner_id: Option<&str>,
        filter: &RevenueFilter,
        group_by: &[RevenueDimension],
        page: &PageRequest,
    ) -> ApiResult<(Page<RevenueRow>, usize)> {
        let rows = self.report(principal, partner_id, filter, group_by).await?;
        let total = rows.len();
        let limit = page.limit() + 1;
        let fetched: Vec<RevenueRow> = match page {
            PageRequest::Forward { after, .. } => rows
                .into_iter()
                .filter(|r| after.as_ref().is_none_or(|a| r.key > *a))
                .take(limit)
                .collect(),
            PageRequest::Backward { before, .. } => rows
                .into_iter()
                .rev()
                .filter(|r| before.as_ref().is_none_or(|b| r.key < *b))
                .take(limit)
                .collect(),
        };
        Ok((Page::from_fetched(page, fetched), total))
    }

    /// The report as CSV with [`CSV_HEADER`]'s columns (empty for absent dimensions).
    pub async fn csv(
        &self,
        principal: &Principal,
        partner_id: Option<&str>,
        filter: &RevenueFilter,
        group_by: &[RevenueDimension],
    ) -> ApiResult<String> {
        let rows = self.report(principal, partner_id, filter, group_by).await?;
        let mut out = String::with_capacity(64 + rows.len() * 96);
        out.push_str(CSV_HEADER);
        out.push('\n');
        for r in rows {
            let cells = [
                r.partner_id.clone(),
                r.program_code.clone().unwrap_or_default(),
                r.month.clone().unwrap_or_default(),
                r.meter_id.clone().unwrap_or_default(),
                r.external_id.clone().unwrap_or_default(),
                from_cents(r.preliminary_cents).to_string(),
                r.final_cents
                    .map(|c| from_cents(c).to_string())
                    .unwrap_or_default(),
                from_cents(r.amount_cents).to_string(),
                from_cents(r.platform_fee_cents).to_string(),
                from_cents(r.partner_net_cents).to_string(),
                from_cents(r.missed_cents).to_string(),
            ];
            let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
        Ok(out)
    }

    /// Settled cents per (partner, program, month, meter) from the current runs.
    async fn cells(
        &self,
        tenant: &Tenant,
        filter: &RevenueFilter,
    ) -> ApiResult<BTreeMap<(String, String, String, String), Cell>> {
        let mut runs_q =
            settlement_run::Entity::find().filter(settlement_run::Column::Current.eq(true));
        if let Some(p) = &filter.program_id {
            runs_q = runs_q.filter(settlement_run::Column::ProgramId.eq(p.clone()));
        }
        let runs = runs_q.all(self.db.conn()).await?;
        let run_by_id: HashMap<String, &settlement_run::Model> =
            runs.iter().map(|r| (r.id.clone(), r)).collect();
        // Months each program's current final runs cover.
        let mut final_months: HashSet<(String, String)> = HashSet::new();
        for r in runs
            .iter()
            .filter(|r| r.kind == SettlementKind::Final.as_str())
        {
            for m in months_between(&r.period_start, &r.period_end) {
                final_months.insert((r.program_id.clone(), m));
            }
        }
        let in_range = |month: &str| {
            filter.from_month.as_deref().is_none_or(|f| month >= f)
                && filter.to_month.as_deref().is_none_or(|t| month <= t)
        };
        let mut cells: BTreeMap<(String, String, String, String), Cell> = BTreeMap::new();
        let run_ids: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
        for chunk in run_ids.chunks(200) {
            let mut q = settlement_line::Entity::find()
                .filter(settlement_line::Column::RunId.is_in(chunk.iter().cloned()));
            if let Tenant::Partner(p) = tenant {
                q = q.filter(settlement_line::Column::PartnerId.eq(p.clone()));
            }
            if let Some(m) = &filter.meter_id {
                q = q.filter(settlement_line::Column::MeterId.eq(m.clone()));
            }
            for l in q.all(self.db.conn()).await? {
                if !in_range(&l.month) {
                    continue;
                }
                let Some(run) = run_by_id.get(&l.run_id) else {
                    continue;
                };
                let cell = cells
                    .entry((
                        l.partner_id.clone(),
                        run.program_id.clone(),
                        l.month.clone(),
                        l.meter_id.clone(),
                    ))
                    .or_default();
                if run.kind == SettlementKind::Final.as_str() {
                    cell.final_cents += l.amount_cents;
                } else {
                    cell.preliminary += l.amount_cents;
                }
            }
            let mut q = settlement_meter::Entity::find()
                .filter(settlement_meter::Column::RunId.is_in(chunk.iter().cloned()));
            if let Tenant::Partner(p) = tenant {
                q = q.filter(settlement_meter::Column::PartnerId.eq(p.clone()));
            }
            if let Some(m) = &filter.meter_id {
                q = q.filter(settlement_meter::Column::MeterId.eq(m.clone()));
            }
            for sm in q.all(self.db.conn()).await? {
                let Some(run) = run_by_id.get(&sm.run_id) else {
                    continue;
                };
                let full: BTreeMap<String, i64> =
                    serde_json::from_value(sm.full_by_month.clone()).unwrap_or_default();
                for (month, cents) in full {
                    if in_range(&month) {
                        cells
                            .entry((
                                sm.partner_id.clone(),
                                run.program_id.clone(),
                                month,
                                sm.meter_id.clone(),
                            ))
                            .or_default()
                            .full += cents;
                    }
                }
            }
        }
        for ((_, program_id, month, _), cell) in cells.iter_mut() {
            cell.final_covered = final_months.contains(&(program_id.clone(), month.clone()));
        }
        Ok(cells)
    }
}

/// `cents × percent ÷ 100`, half-even to the cent.
pub fn percent_of(cents: i64, percent: Decimal) -> i64 {
    let v = (Decimal::from(cents) * percent / Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven);
    i64::try_from(v.mantissa()).unwrap_or(0)
}

fn default_terms(partner: &str) -> Terms {
    Terms {
        partner_id: partner.to_owned(),
        platform_fee_percent: Decimal::ZERO,
        customer_share_percent: Decimal::ONE_HUNDRED,
    }
}

fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The calendar quarter containing a month: first and last day.
pub fn quarter_of(month_start: NaiveDate) -> (NaiveDate, NaiveDate) {
    let q0 = (month_start.month0() / 3) * 3 + 1;
    let start = NaiveDate::from_ymd_opt(month_start.year(), q0, 1).expect("valid");
    let end = super::settlement::month_end(
        NaiveDate::from_ymd_opt(month_start.year(), q0 + 2, 1).expect("valid"),
    );
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_round_half_even_and_quarters_are_calendar_quarters() {
        assert_eq!(percent_of(112_500, Decimal::from(20)), 22_500);
        // 12.5% of $0.20 = 2.5 cents → 2.
        assert_eq!(percent_of(20, Decimal::from_str("12.5").unwrap()), 2);
        assert_eq!(percent_of(-1_000, Decimal::from(10)), -100);
        let d = |m| NaiveDate::from_ymd_opt(2026, m, 1).unwrap();
        assert_eq!(
            quarter_of(d(8)),
            (d(7), NaiveDate::from_ymd_opt(2026, 9, 30).unwrap())
        );
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
    }
}
