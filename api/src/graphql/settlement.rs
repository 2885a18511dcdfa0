//! Settlement runs (preliminary and final), market statement imports,
//! revenue reports and exports, revenue terms and projected payments.

use std::collections::BTreeMap;
use std::str::FromStr;

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::context::ContextExt;
use super::pagination::{edges, PageInfo};
use super::performance::PluginUsed;
use crate::auth::Tenant;
use crate::domain::date::Date;
use crate::domain::Role;
use crate::entity::{market_statement, settlement_line, settlement_meter, settlement_run};
use crate::error::ApiError;
use crate::services::pagination::PageRequest;
use crate::services::revenue::{percent_of, RevenueDimension, RevenueFilter, RevenueRow, Terms};
use crate::services::settlement::{
    from_cents, Comparison, SettlementKind, StatementBasis, StatementInput, StatementLine,
};

fn tenant_of(ctx: &Context<'_>) -> Result<Tenant> {
    let p = ctx.principal()?;
    Ok(match p.role {
        Role::Analyst => Tenant::All,
        _ => p.tenant(None)?,
    })
}

pub struct SettlementRun(pub settlement_run::Model);

#[Object]
impl SettlementRun {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn program_id(&self) -> ID {
        ID(self.0.program_id.clone())
    }
    async fn kind(&self) -> Result<SettlementKind> {
        Ok(SettlementKind::from_db(&self.0.kind)?)
    }
    async fn period_start(&self) -> Result<Date> {
        Ok(Date(
            NaiveDate::from_str(&self.0.period_start).map_err(ApiError::internal)?,
        ))
    }
    async fn period_end(&self) -> Result<Date> {
        Ok(Date(
            NaiveDate::from_str(&self.0.period_end).map_err(ApiError::internal)?,
        ))
    }
    /// The program season (capability period, term) settled, if any.
    async fn season(&self) -> Option<&str> {
        self.0.season.as_deref()
    }
    /// Counts up per program, kind and period start.
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn current(&self) -> bool {
        self.0.current
    }
    /// `EVENT_PERFORMANCE`, `ON_DEMAND` or `MARKET_STATEMENT`.
    async fn trigger(&self) -> &str {
        &self.0.trigger
    }
    /// The market statement a FINAL run comes from.
    async fn statement_id(&self) -> Option<ID> {
        self.0.statement_id.clone().map(ID)
    }
    /// The plugin build of a PRELIMINARY run.
    async fn plugin(&self) -> Option<PluginUsed> {
        Some(PluginUsed {
            id: ID(self.0.plugin_id.clone()?),
            version: self.0.plugin_version.clone()?,
            sha256: self.0.plugin_sha256.clone()?,
        })
    }
    async fn parameter_version_id(&self) -> Option<ID> {
        self.0.parameter_version_id.clone().map(ID)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Sum over the meters you may see.
    async fn total(&self, ctx: &Context<'_>) -> Result<Decimal> {
        let cents = ctx
            .loaders()?
            .settlement_totals
            .load_one(self.0.id.clone())
            .await?
            .unwrap_or(0);
        Ok(from_cents(cents))
    }
    /// The meters you may see (Relay pagination).
    #[graphql(
        complexity = "first.or(last).unwrap_or(50).clamp(0, 500) as usize * child_complexity"
    )]
    async fn meters(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<SettledMeterConnection> {
        let page = PageRequest::from_relay(after, before, first, last)?;
        let result = ctx
            .services()?
            .settlement
            .run_meters_page(&tenant_of(ctx)?, &self.0.id, &page)
            .await?;
        let (edges, page_info) = edges(
            result,
            |m| &m.id,
            |cursor, m| SettledMeterEdge {
                cursor,
                node: SettledMeter(m),
            },
        );
        Ok(SettledMeterConnection { edges, page_info })
    }
}

pub struct SettledMeter(pub settlement_meter::Model);

#[Object]
impl SettledMeter {
    async fn meter_id(&self) -> ID {
        ID(self.0.meter_id.clone())
    }
    async fn meter(&self, ctx: &Context<'_>) -> Result<Option<super::meters::Meter>> {
        Ok(ctx
            .loaders()?
            .meters
            .load_one(self.0.meter_id.clone())
            .await?
            .map(super::meters::Meter))
    }
    async fn committed_kw(&self) -> f64 {
        self.0.committed_kw
    }
    async fn amount(&self) -> Decimal {
        from_cents(self.0.amount_cents)
    }
    /// What every event delivered in full would have earned (preliminary runs).
    async fn full_performance_amount(&self) -> Option<Decimal> {
        self.0.full_performance_cents.map(from_cents)
    }
    /// Full-performance amount minus the amount, never negative.
    async fn missed(&self) -> Option<Decimal> {
        self.0
            .full_performance_cents
            .map(|full| from_cents((full - self.0.amount_cents).max(0)))
    }
    /// Delivered kWh in the period's events: the share key of aggregate payments.
    async fn delivered_kwh(&self) -> f64 {
        self.0.weight
    }
    async fn notes(&self) -> Vec<String> {
        serde_json::from_value(self.0.notes.clone()).unwrap_or_default()
    }
    /// Why the plugin could not settle the meter.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    async fn lines(&self, ctx: &Context<'_>) -> Result<Vec<SettlementLine>> {
        let rows = ctx
            .loaders()?
            .settlement_lines
            .load_one(format!("{}/{}", self.0.run_id, self.0.meter_id))
            .await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(SettlementLine)
            .collect())
    }
}

pub struct SettlementLine(pub settlement_line::Model);

#[Object]
impl SettlementLine {
    /// `YYYY-MM` the line pays for.
    async fn month(&self) -> &str {
        &self.0.month
    }
    async fn event_id(&self) -> Option<ID> {
        self.0.event_id.clone().map(ID)
    }
    /// e.g. `CAPACITY`, `ENERGY`, `SEASONAL_PERFORMANCE`, `MARKET_ALLOCATION`.
    async fn code(&self) -> &str {
        &self.0.code
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn quantity(&self) -> f64 {
        self.0.quantity
    }
    async fn unit(&self) -> &str {
        &self.0.unit
    }
    async fn rate(&self) -> Result<Decimal> {
        Ok(Decimal::from_str(&self.0.rate).map_err(ApiError::internal)?)
    }
    async fn amount(&self) -> Decimal {
        from_cents(self.0.amount_cents)
    }
}

#[derive(SimpleObject)]
pub struct SettledMeterEdge {
    pub cursor: String,
    pub node: SettledMeter,
}

#[derive(SimpleObject)]
pub struct SettledMeterConnection {
    pub edges: Vec<SettledMeterEdge>,
    pub page_info: PageInfo,
}

/// One meter of a market statement: our preliminary amount and the final.
#[derive(SimpleObject)]
pub struct StatementComparison {
    pub meter_id: ID,
    pub preliminary: Decimal,
    pub r#final: Decimal,
    /// final − preliminary.
    pub difference: Decimal,
}

impl From<Comparison> for StatementComparison {
    fn from(c: Comparison) -> Self {
        StatementComparison {
            meter_id: ID(c.meter_id),
            preliminary: from_cents(c.preliminary_cents),
            r#final: from_cents(c.final_cents),
            difference: from_cents(c.final_cents - c.preliminary_cents),
        }
    }
}

pub struct MarketStatement(pub market_statement::Model, pub settlement_run::Model);

#[Object]
impl MarketStatement {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn program_id(&self) -> ID {
        ID(self.0.program_id.clone())
    }
    async fn period_start(&self) -> Result<Date> {
        Ok(Date(
            NaiveDate::from_str(&self.0.period_start).map_err(ApiError::internal)?,
        ))
    }
    async fn period_end(&self) -> Result<Date> {
        Ok(Date(
            NaiveDate::from_str(&self.0.period_end).map_err(ApiError::internal)?,
        ))
    }
    async fn basis(&self) -> Result<StatementBasis> {
        Ok(StatementBasis::from_db(&self.0.basis)?)
    }
    async fn aggregate_amount(&self) -> Option<Decimal> {
        self.0.aggregate_cents.map(from_cents)
    }
    async fn reference(&self) -> Option<&str> {
        self.0.reference.as_deref()
    }
    async fn imported_at(&self) -> DateTime<Utc> {
        self.0.imported_at
    }
    /// The FINAL settlement run the statement made.
    async fn settlement(&self) -> SettlementRun {
        SettlementRun(self.1.clone())
    }
    /// Preliminary vs final per meter (the meters you may see).
    async fn comparison(&self, ctx: &Context<'_>) -> Result<Vec<StatementComparison>> {
        let rows = ctx
            .services()?
            .settlement
            .comparison(&tenant_of(ctx)?, &self.1)
            .await?;
        Ok(rows.into_iter().map(StatementComparison::from).collect())
    }
}

#[derive(InputObject)]
pub struct MarketStatementLineInput {
    pub meter_id: ID,
    /// USD.
    pub amount: Decimal,
    /// Line code; `MARKET_SETTLEMENT` by default.
    pub code: Option<String>,
    pub description: Option<String>,
}

#[derive(InputObject)]
pub struct MarketStatementInput {
    pub program_id: ID,
    pub period_start: Date,
    pub period_end: Date,
    /// The market's statement number or file name.
    pub reference: Option<String>,
    /// The market pays one amount for the portfolio (USD): allocated to the
    /// period's meters in proportion to their delivered kWh, to the cent.
    pub aggregate_amount: Option<Decimal>,
    /// Or: the market pays each meter.
    pub lines: Option<Vec<MarketStatementLineInput>>,
}

#[derive(InputObject, Default)]
pub struct RevenueFilterInput {
    pub program_id: Option<ID>,
    /// `YYYY-MM`, inclusive.
    pub from_month: Option<String>,
    pub to_month: Option<String>,
    pub meter_id: Option<ID>,
}

impl RevenueFilterInput {
    fn into_filter(self) -> Result<RevenueFilter> {
        for (field, m) in [("fromMonth", &self.from_month), ("toMonth", &self.to_month)] {
            if let Some(m) = m {
                if NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").is_err() {
                    return Err(ApiError::validation(field, "use YYYY-MM").into());
                }
            }
        }
        Ok(RevenueFilter {
            program_id: self.program_id.map(|i| i.0),
            from_month: self.from_month,
            to_month: self.to_month,
            meter_id: self.meter_id.map(|i| i.0),
        })
    }
}

/// One row of a revenue report; dimensions not grouped by are null.
#[derive(SimpleObject)]
pub struct RevenueLine {
    pub partner_id: ID,
    pub program_id: Option<ID>,
    pub program_code: Option<String>,
    /// `YYYY-MM`.
    pub month: Option<String>,
    pub meter_id: Option<ID>,
    pub external_id: Option<String>,
    /// From our measurements.
    pub preliminary: Decimal,
    /// From the market's statements, when they cover the whole row.
    pub r#final: Option<Decimal>,
    /// Final where known, else preliminary.
    pub amount: Decimal,
    pub platform_fee: Decimal,
    /// amount − platform fee.
    pub partner_net: Decimal,
    /// What full performance would have earned beyond the preliminary amount.
    pub missed: Decimal,
}

impl From<RevenueRow> for RevenueLine {
    fn from(r: RevenueRow) -> Self {
        RevenueLine {
            partner_id: ID(r.partner_id),
            program_id: r.program_id.map(ID),
            program_code: r.program_code,
            month: r.month,
            meter_id: r.meter_id.map(ID),
            external_id: r.external_id,
            preliminary: from_cents(r.preliminary_cents),
            r#final: r.final_cents.map(from_cents),
            amount: from_cents(r.amount_cents),
            platform_fee: from_cents(r.platform_fee_cents),
            partner_net: from_cents(r.partner_net_cents),
            missed: from_cents(r.missed_cents),
        }
    }
}

#[derive(SimpleObject)]
pub struct RevenueEdge {
    pub cursor: String,
    pub node: RevenueLine,
}

#[derive(SimpleObject)]
pub struct RevenueConnection {
    pub edges: Vec<RevenueEdge>,
    pub page_info: PageInfo,
    pub total_count: i64,
}

#[derive(SimpleObject)]
pub struct RevenueTerms {
    pub partner_id: ID,
    /// The platform's share of settled revenue, percent.
    pub platform_fee_percent: Decimal,
    /// The share of the partner's net passed to customers, percent.
    pub customer_share_percent: Decimal,
}

impl From<Terms> for RevenueTerms {
    fn from(t: Terms) -> Self {
        RevenueTerms {
            partner_id: ID(t.partner_id),
            platform_fee_percent: t.platform_fee_percent,
            customer_share_percent: t.customer_share_percent,
        }
    }
}

/// What a meter is projected to earn and pay its customer.
#[derive(SimpleObject)]
pub struct ProjectedPayment {
    pub meter_id: ID,
    pub program_id: ID,
    /// Gross for the month: capacity on the commitment for the whole month
    /// with the season's performance so far, and the month's events.
    pub month_amount: Decimal,
    pub quarter_amount: Decimal,
    /// Gross × (1 − platform fee) × customer share.
    pub customer_month_payment: Decimal,
    pub customer_quarter_payment: Decimal,
}

const ALL_DIMENSIONS: [RevenueDimension; 3] = [
    RevenueDimension::Program,
    RevenueDimension::Month,
    RevenueDimension::Meter,
];

#[derive(Default)]
pub struct SettlementQuery;

#[Object]
impl SettlementQuery {
    /// A program's settlement runs, newest first; current versions only by default.
    async fn settlement_runs(
        &self,
        ctx: &Context<'_>,
        program_id: ID,
        kind: Option<SettlementKind>,
        #[graphql(default = true)] current_only: bool,
    ) -> Result<Vec<SettlementRun>> {
        let rows = ctx
            .services()?
            .settlement
            .runs(ctx.principal()?, &program_id, kind, current_only)
            .await?;
        Ok(rows.into_iter().map(SettlementRun).collect())
    }

    async fn settlement_run(&self, ctx: &Context<'_>, id: ID) -> Result<SettlementRun> {
        let run = ctx
            .services()?
            .settlement
            .run(ctx.principal()?, &id)
            .await?;
        Ok(SettlementRun(run))
    }

    /// Revenue grouped by program, month and meter (or fewer dimensions);
    /// partners see their own, an admin everyone's or one partner's.
    #[graphql(
        complexity = "first.or(last).unwrap_or(50).clamp(0, 500) as usize * child_complexity"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn revenue(
        &self,
        ctx: &Context<'_>,
        partner_id: Option<ID>,
        filter: Option<RevenueFilterInput>,
        group_by: Option<Vec<RevenueDimension>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<RevenueConnection> {
        let page = PageRequest::from_relay(after, before, first, last)?;
        let filter = filter.unwrap_or_default().into_filter()?;
        let dims = group_by.unwrap_or_else(|| ALL_DIMENSIONS.to_vec());
        let (result, total) = ctx
            .services()?
            .revenue
            .page(
                ctx.principal()?,
                partner_id.as_ref().map(|p| p.as_str()),
                &filter,
                &dims,
                &page,
            )
            .await?;
        let (edges, page_info) = edges(
            result,
            |r| &r.key,
            |cursor, r| RevenueEdge {
                cursor,
                node: r.into(),
            },
        );
        Ok(RevenueConnection {
            edges,
            page_info,
            total_count: total as i64,
        })
    }

    /// The same report as CSV; columns: partner_id, program_code, month,
    /// meter_id, external_id, preliminary_usd, final_usd, amount_usd,
    /// platform_fee_usd, partner_net_usd, missed_usd.
    async fn revenue_csv(
        &self,
        ctx: &Context<'_>,
        partner_id: Option<ID>,
        filter: Option<RevenueFilterInput>,
        group_by: Option<Vec<RevenueDimension>>,
    ) -> Result<String> {
        let filter = filter.unwrap_or_default().into_filter()?;
        let dims = group_by.unwrap_or_else(|| ALL_DIMENSIONS.to_vec());
        Ok(ctx
            .services()?
            .revenue
            .csv(
                ctx.principal()?,
                partner_id.as_ref().map(|p| p.as_str()),
                &filter,
                &dims,
            )
            .await?)
    }

    async fn revenue_terms(
        &self,
        ctx: &Context<'_>,
        partner_id: Option<ID>,
    ) -> Result<RevenueTerms> {
        let terms = ctx
            .services()?
            .revenue
            .terms(ctx.principal()?, partner_id.as_ref().map(|p| p.as_str()))
            .await?;
        Ok(terms.into())
    }

    /// Projected earnings and customer payments of the partner's enrolled
    /// meters for a month (`YYYY-MM`) and its quarter (at most 500 meters).
    async fn projected_payments(
        &self,
        ctx: &Context<'_>,
        partner_id: Option<ID>,
        month: String,
        meter_ids: Option<Vec<ID>>,
    ) -> Result<Vec<ProjectedPayment>> {
        let principal = ctx.principal()?;
        principal.require(&[Role::Partner, Role::Admin])?;
        let partner = principal.acting_partner(partner_id.as_ref().map(|p| p.as_str()))?;
        let month = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
            .map_err(|_| ApiError::validation("month", "use YYYY-MM"))?;
        let ids: Option<Vec<String>> = meter_ids.map(|v| v.into_iter().map(|i| i.0).collect());
        if ids.as_ref().is_some_and(|i| i.len() > 500) {
            return Err(ApiError::validation("meterIds", "at most 500 meters").into());
        }
        let services = ctx.services()?;
        let terms = services.revenue.terms(principal, Some(&partner)).await?;
        let rows = services
            .settlement
            .project(&partner, month, ids.as_deref())
            .await?;
        let customer = |cents: i64| {
            let net = cents - percent_of(cents, terms.platform_fee_percent);
            from_cents(percent_of(net, terms.customer_share_percent))
        };
        Ok(rows
            .into_iter()
            .map(|p| ProjectedPayment {
                meter_id: ID(p.meter_id),
                program_id: ID(p.program_id),
                month_amount: from_cents(p.month_cents),
                quarter_amount: from_cents(p.quarter_cents),
                customer_month_payment: customer(p.month_cents),
                customer_quarter_payment: customer(p.quarter_cents),
            })
            .collect())
    }
}

#[derive(Default)]
pub struct SettlementMutation;

#[Object]
impl SettlementMutation {
    /// Preliminary settlement of a program's season through `through` (ADMIN).
    async fn settle_period(
        &self,
        ctx: &Context<'_>,
        program_id: ID,
        through: Date,
    ) -> Result<SettlementRun> {
        let run = ctx
            .services()?
            .settlement
            .settle_on_demand(ctx.principal()?, &program_id, through.0)
            .await?;
        Ok(SettlementRun(run))
    }

    /// Imports the market's numbers for a program and period as the FINAL
    /// settlement (ADMIN).
    async fn import_market_statement(
        &self,
        ctx: &Context<'_>,
        input: MarketStatementInput,
    ) -> Result<MarketStatement> {
        let input = StatementInput {
            program_id: input.program_id.0,
            period_start: input.period_start.0,
            period_end: input.period_end.0,
            reference: input.reference,
            aggregate: input.aggregate_amount,
            lines: input.lines.map(|lines| {
                lines
                    .into_iter()
                    .map(|l| StatementLine {
                        meter_id: l.meter_id.0,
                        amount: l.amount,
                        code: l.code,
                        description: l.description,
                    })
                    .collect()
            }),
        };
        let (statement, run) = ctx
            .services()?
            .settlement
            .import_statement(ctx.principal()?, input)
            .await?;
        Ok(MarketStatement(statement, run))
    }

    /// The same from the market's CSV: a header with `meter_id,amount` (and
    /// optionally `code`, `description`), or a single `aggregate_amount` row.
    async fn import_market_statement_csv(
        &self,
        ctx: &Context<'_>,
        program_id: ID,
        period_start: Date,
        period_end: Date,
        csv: String,
        reference: Option<String>,
    ) -> Result<MarketStatement> {
        let (aggregate, lines) = parse_statement_csv(&csv)?;
        let input = StatementInput {
            program_id: program_id.0,
            period_start: period_start.0,
            period_end: period_end.0,
            reference,
            aggregate,
            lines,
        };
        let (statement, run) = ctx
            .services()?
            .settlement
            .import_statement(ctx.principal()?, input)
            .await?;
        Ok(MarketStatement(statement, run))
    }

    /// Sets a partner's platform fee and customer share (ADMIN).
    async fn set_revenue_terms(
        &self,
        ctx: &Context<'_>,
        partner_id: ID,
        platform_fee_percent: Decimal,
        customer_share_percent: Decimal,
    ) -> Result<RevenueTerms> {
        let terms = ctx
            .services()?
            .revenue
            .set_terms(
                ctx.principal()?,
                &partner_id,
                platform_fee_percent,
                customer_share_percent,
            )
            .await?;
        Ok(terms.into())
    }
}

type StatementRows = (Option<Decimal>, Option<Vec<StatementLine>>);

/// Reads a market statement CSV (see `importMarketStatementCsv`).
fn parse_statement_csv(text: &str) -> Result<StatementRows, ApiError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .ok_or_else(|| ApiError::validation("csv", "the file is empty"))?
        .split(',')
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_owned())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let bad = |row: usize, m: String| ApiError::validation(format!("csv line {}", row + 2), m);
    let amount = |row: usize, text: &str| {
        Decimal::from_str(text.trim()).map_err(|_| bad(row, format!("`{text}` is not an amount")))
    };
    if let Some(a) = col("aggregate_amount") {
        let rows: Vec<&str> = lines.collect();
        if rows.len() != 1 {
            return Err(ApiError::validation(
                "csv",
                "an aggregate statement has exactly one row",
            ));
        }
        let cells: Vec<&str> = rows[0].split(',').collect();
        let text = cells.get(a).copied().unwrap_or("");
        return Ok((Some(amount(0, text)?), None));
    }
    let (Some(m), Some(a)) = (col("meter_id"), col("amount")) else {
        return Err(ApiError::validation(
            "csv",
            "the header needs `meter_id` and `amount`, or `aggregate_amount`",
        ));
    };
    let (code, description) = (col("code"), col("description"));
    let mut out = Vec::new();
    let mut seen = BTreeMap::new();
    for (row, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let meter_id = cells.get(m).copied().unwrap_or("").to_owned();
        if meter_id.is_empty() {
            return Err(bad(row, "meter_id is empty".into()));
        }
        if let Some(first) = seen.insert(meter_id.clone(), row) {
            return Err(bad(
                row,
                format!("meter `{meter_id}` is already on line {}", first + 2),
            ));
        }
        out.push(StatementLine {
            amount: amount(row, cells.get(a).copied().unwrap_or(""))?,
            code: code
                .and_then(|c| cells.get(c))
                .map(|c| c.to_string())
                .filter(|c| !c.is_empty()),
            description: description
                .and_then(|c| cells.get(c))
                .map(|c| c.to_string())
                .filter(|c| !c.is_empty()),
            meter_id,
        });
    }
    Ok((None, Some(out)))
}
