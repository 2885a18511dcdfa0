//! Meters: the partner's inventory.

use async_graphql::{Context, Json, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};

use crate::domain::date::Date;

use super::context::ContextExt;
use super::pagination::{edges, PageInfo};
use super::partners::Partner;
use crate::domain::geo::{Iso, Region};
use crate::domain::meter::{
    AuthorizationStatus, CustomerClass, DeviceType, MeterFilter, MeterKind, MeterPatch, MeterSpec,
    MeterStatus, NetworkTier,
};
use crate::entity::meter;
use crate::error::ApiError;
use crate::services::pagination::PageRequest;

pub struct Meter(pub meter::Model);

#[derive(SimpleObject)]
pub struct ServiceAddress {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
}

#[Object]
impl Meter {
    /// Stable platform id (`mtr_…`).
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// The partner's own id for this meter.
    async fn external_id(&self) -> &str {
        &self.0.external_id
    }
    async fn partner(&self, ctx: &Context<'_>) -> Result<Partner> {
        let loaded = ctx
            .loaders()?
            .partners
            .load_one(self.0.partner_id.clone())
            .await?;
        Ok(Partner(loaded.ok_or_else(|| {
            ApiError::internal(format!("meter {} has no partner", self.0.id))
        })?))
    }
    async fn kind(&self) -> Result<MeterKind> {
        Ok(MeterKind::from_db(&self.0.kind)?)
    }
    async fn device_type(&self) -> Result<Option<DeviceType>> {
        Ok(self
            .0
            .device_type
            .as_deref()
            .map(DeviceType::from_db)
            .transpose()?)
    }
    async fn region(&self) -> Result<Region> {
        Ok(Region::from_db(&self.0.region)?)
    }
    async fn iso(&self) -> Result<Iso> {
        Ok(Iso::from_db(&self.0.iso)?)
    }
    async fn utility(&self) -> Option<&str> {
        self.0.utility.as_deref()
    }
    async fn load_zone(&self) -> Option<&str> {
        self.0.load_zone.as_deref()
    }
    async fn customer_class(&self) -> Result<Option<CustomerClass>> {
        Ok(self
            .0
            .customer_class
            .as_deref()
            .map(CustomerClass::from_db)
            .transpose()?)
    }
    async fn service_address(&self) -> Option<ServiceAddress> {
        let m = &self.0;
        let any = m.address_line1.is_some()
            || m.address_line2.is_some()
            || m.city.is_some()
            || m.state.is_some()
            || m.postal_code.is_some();
        any.then(|| ServiceAddress {
            line1: m.address_line1.clone(),
            line2: m.address_line2.clone(),
            city: m.city.clone(),
            state: m.state.clone(),
            postal_code: m.postal_code.clone(),
        })
    }
    async fn capacity_kw(&self) -> Option<f64> {
        self.0.capacity_kw
    }
    async fn energy_kwh(&self) -> Option<f64> {
        self.0.energy_kwh
    }
    async fn utility_account_number(&self) -> Option<&str> {
        self.0.utility_account_number.as_deref()
    }
    async fn utility_service_id(&self) -> Option<&str> {
        self.0.utility_service_id.as_deref()
    }
    async fn esi_id(&self) -> Option<&str> {
        self.0.esi_id.as_deref()
    }
    async fn authorization_status(&self) -> Result<AuthorizationStatus> {
        Ok(AuthorizationStatus::from_db(&self.0.authorization_status)?)
    }
    async fn status(&self) -> Result<MeterStatus> {
        Ok(MeterStatus::from_db(&self.0.status)?)
    }
    async fn deactivated_at(&self) -> Option<DateTime<Utc>> {
        self.0.deactivated_at
    }
    async fn deactivation_reason(&self) -> Option<&str> {
        self.0.deactivation_reason.as_deref()
    }
    async fn network_tier(&self) -> Result<Option<NetworkTier>> {
        Ok(self
            .0
            .network_tier
            .as_deref()
            .map(NetworkTier::from_db)
            .transpose()?)
    }
    async fn commercial_operation_date(&self) -> Option<Date> {
        self.0.commercial_operation_date.map(Date)
    }
    async fn colocated_renewable_kw(&self) -> Option<f64> {
        self.0.colocated_renewable_kw
    }
    /// The partner's free-form attributes (a JSON object).
    async fn attributes(&self) -> Json<serde_json::Value> {
        Json(self.0.attributes.clone())
    }
    /// The meter's enrollments in programs.
    async fn enrollments(&self, ctx: &Context<'_>) -> Result<Vec<super::enrollments::Enrollment>> {
        let rows = ctx
            .loaders()?
            .enrollments_by_meter
            .load_one(self.0.id.clone())
            .await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(super::enrollments::Enrollment)
            .collect())
    }
    /// The customer's utility data authorization (Connect) the meter is
    /// shared under, current or last.
    async fn authorization(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<super::connect::UtilityAuthorization>> {
        let Some(id) = &self.0.authorization_id else {
            return Ok(None);
        };
        Ok(ctx
            .loaders()?
            .authorizations
            .load_one(id.clone())
            .await?
            .map(super::connect::UtilityAuthorization))
    }
    /// Fetching the meter's utility data, while it is authorized.
    async fn utility_data_sync(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<super::connect::UtilityDataSync>> {
        Ok(ctx
            .loaders()?
            .utility_sync
            .load_one(self.0.id.clone())
            .await?
            .map(super::connect::UtilityDataSync))
    }
    /// The interval data stored for the meter, one entry per source and channel.
    async fn interval_series(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<super::intervals::IntervalSeries>> {
        let rows = ctx
            .loaders()?
            .interval_series
            .load_one(self.0.id.clone())
            .await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(super::intervals::IntervalSeries)
            .collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(SimpleObject)]
pub struct MeterEdge {
    pub cursor: String,
    pub node: Meter,
}

/// A page of meters in creation order.
pub struct MeterConnection {
    edges: Vec<MeterEdge>,
    page_info: PageInfo,
    partner_id: Option<String>,
    filter: MeterFilter,
}

#[Object]
impl MeterConnection {
    async fn edges(&self) -> &[MeterEdge] {
        &self.edges
    }
    async fn nodes(&self) -> Vec<&Meter> {
        self.edges.iter().map(|e| &e.node).collect()
    }
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }
    /// Meters matching the filter across all pages (one extra query, only when asked).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        let p = ctx.principal()?;
        Ok(ctx
            .services()?
            .meters
            .count(p, self.partner_id.as_deref(), &self.filter)
            .await?)
    }
}

/// What an inventory sync did.
#[derive(SimpleObject)]
pub struct UpsertMetersPayload {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// The meters in input order.
    pub meters: Vec<Meter>,
}

#[derive(Default)]
pub struct MeterQuery;

#[Object]
impl MeterQuery {
    async fn meter(&self, ctx: &Context<'_>, id: ID) -> Result<Meter> {
        let p = ctx.principal()?;
        Ok(Meter(ctx.services()?.meters.get(p, &id).await?))
    }

    /// A meter by the partner's external id (admins name the partner).
    async fn meter_by_external_id(
        &self,
        ctx: &Context<'_>,
        external_id: String,
        partner_id: Option<ID>,
    ) -> Result<Meter> {
        let p = ctx.principal()?;
        let m = ctx
            .services()?
            .meters
            .get_by_external_id(p, partner_id.as_ref().map(|id| id.as_str()), &external_id)
            .await?;
        Ok(Meter(m))
    }

    /// Meters, newest last, with Relay cursor pagination (at most 500 a page).
    #[graphql(
        complexity = "first.or(last).unwrap_or(50).clamp(0, 500) as usize * child_complexity"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn meters(
        &self,
        ctx: &Context<'_>,
        filter: Option<MeterFilter>,
        #[graphql(desc = "ADMIN only: one partner's meters")] partner_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<MeterConnection> {
        let p = ctx.principal()?;
        let page = PageRequest::from_relay(after, before, first, last)?;
        let filter = filter.unwrap_or_default();
        let partner_id = partner_id.map(|id| id.0);
        let result = ctx
            .services()?
            .meters
            .list(p, partner_id.as_deref(), &filter, &page)
            .await?;
        let (edges, page_info) = edges(
            result,
            |m| &m.id,
            |cursor, m| MeterEdge {
                cursor,
                node: Meter(m),
            },
        );
        Ok(MeterConnection {
            page_info,
            edges,
            partner_id,
            filter,
        })
    }
}

#[derive(Default)]
pub struct MeterMutation;

#[Object]
impl MeterMutation {
    /// Creates one meter. Fails with CONFLICT if the external id exists.
    async fn create_meter(
        &self,
        ctx: &Context<'_>,
        input: MeterSpec,
        #[graphql(desc = "ADMIN only: the partner to create it for")] partner_id: Option<ID>,
        #[graphql(desc = "Retrying with the same key returns the first result and writes nothing")]
        idempotency_key: Option<String>,
    ) -> Result<Meter> {
        let p = ctx.principal()?;
        let key = ctx.idempotency_key(idempotency_key)?;
        let mut created = ctx
            .services()?
            .meters
            .create(
                p,
                partner_id.as_ref().map(|id| id.as_str()),
                vec![input],
                key,
            )
            .await
            .map_err(single_input)?;
        Ok(Meter(created.remove(0)))
    }

    /// Creates up to 1000 meters, all or none.
    async fn create_meters(
        &self,
        ctx: &Context<'_>,
        inputs: Vec<MeterSpec>,
        partner_id: Option<ID>,
        idempotency_key: Option<String>,
    ) -> Result<Vec<Meter>> {
        let p = ctx.principal()?;
        let key = ctx.idempotency_key(idempotency_key)?;
        let created = ctx
            .services()?
            .meters
            .create(p, partner_id.as_ref().map(|id| id.as_str()), inputs, key)
            .await?;
        Ok(created.into_iter().map(Meter).collect())
    }

    /// Inventory sync by external id (up to 1000 rows, all or none): each row is
    /// the meter's full record; new ids are created, changed rows replaced,
    /// equal rows left untouched. Sending the same batch again changes nothing.
    async fn upsert_meters(
        &self,
        ctx: &Context<'_>,
        inputs: Vec<MeterSpec>,
        partner_id: Option<ID>,
    ) -> Result<UpsertMetersPayload> {
        let p = ctx.principal()?;
        let services = ctx.services()?;
        let outcome = services
            .meters
            .upsert(p, partner_id.as_ref().map(|id| id.as_str()), inputs)
            .await?;
        let tenant = p.tenant(partner_id.as_ref().map(|id| id.as_str()))?;
        let mut by_id = services.meters.by_ids(&tenant, &outcome.meter_ids).await?;
        let meters = outcome
            .meter_ids
            .iter()
            .filter_map(|id| by_id.remove(id))
            .map(Meter)
            .collect();
        Ok(UpsertMetersPayload {
            created: outcome.created,
            updated: outcome.updated,
            unchanged: outcome.unchanged,
            meters,
        })
    }

    /// Changes some fields of a meter; `null` clears a field.
    async fn update_meter(&self, ctx: &Context<'_>, id: ID, input: MeterPatch) -> Result<Meter> {
        let p = ctx.principal()?;
        let services = ctx.services()?;
        let updated = services.meters.update(p, &id, input).await?;
        services.enrollments.after_meter_change(&updated.id).await;
        Ok(Meter(updated))
    }

    /// Deactivates a meter; it stays queryable with status INACTIVE.
    async fn deactivate_meter(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> Result<Meter> {
        let p = ctx.principal()?;
        Ok(Meter(
            ctx.services()?
                .meters
                .set_active(p, &id, false, reason)
                .await?,
        ))
    }

    async fn reactivate_meter(&self, ctx: &Context<'_>, id: ID) -> Result<Meter> {
        let p = ctx.principal()?;
        Ok(Meter(
            ctx.services()?
                .meters
                .set_active(p, &id, true, None)
                .await?,
        ))
    }
}

/// Names fields of a one-meter mutation `input.x` rather than `inputs[0].x`.
fn single_input(err: ApiError) -> ApiError {
    const BATCH: &str = "inputs[0].";
    match err {
        ApiError::Validation(errors) => ApiError::Validation(
            errors
                .into_iter()
                .map(|mut e| {
                    if let Some(rest) = e.field.strip_prefix(BATCH) {
                        e.field = format!("input.{rest}");
                    }
                    e.row = None;
                    e
                })
                .collect(),
        ),
        ApiError::Conflict(message) => ApiError::Conflict(message.replace(BATCH, "input.")),
        other => other,
    }
}
