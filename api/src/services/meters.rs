//! Meter inventory: create, sync (upsert by external id), update, deactivate, list.

use std::collections::{HashMap, HashSet};

use async_graphql::Json;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select, Set,
};
use serde::{Deserialize, Serialize};

use super::idempotency::{self, IdempotencyKey, Start};
use super::pagination::{Page, PageRequest};
use crate::auth::{Principal, Tenant};
use crate::db::Db;
use crate::domain::geo::Region;
use crate::domain::meter::{
    AuthorizationStatus, CustomerClass, DeviceType, MeterFilter, MeterKind, MeterSpec, MeterStatus,
    NetworkTier, ServiceAddress, MAX_BATCH,
};
use crate::domain::Role;
use crate::entity::{meter, partner};
use crate::error::{ApiError, ApiResult, FieldError, Validator};
use crate::ids;

/// Rows per INSERT statement: 31 columns × 500 rows stays under SQLite's
/// 32,766 bound-parameter limit.
const INSERT_CHUNK: usize = 500;
const MAX_EXTERNAL_ID_FILTER: usize = 1000;

#[derive(Clone)]
pub struct MeterService {
    db: Db,
}

/// What an inventory sync did, row by row in input order.
#[derive(Debug, Serialize, Deserialize)]
pub struct UpsertOutcome {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub meter_ids: Vec<String>,
}

impl MeterService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    fn require_inventory_role(principal: &Principal) -> ApiResult<()> {
        principal.require(&[Role::Partner, Role::Admin])
    }

    pub async fn get(&self, principal: &Principal, id: &str) -> ApiResult<meter::Model> {
        Self::require_inventory_role(principal)?;
        let tenant = principal.tenant(None)?;
        scoped(meter::Entity::find_by_id(id.to_owned()), &tenant)
            .one(self.db.conn())
            .await?
            .ok_or_else(|| ApiError::not_found("meter", id))
    }

    pub async fn get_by_external_id(
        &self,
        principal: &Principal,
        partner_id: Option<&str>,
        external_id: &str,
    ) -> ApiResult<meter::Model> {
        Self::require_inventory_role(principal)?;
        let partner_id = principal.acting_partner(partner_id)?;
        meter::Entity::find()
            .filter(meter::Column::PartnerId.eq(partner_id))
            .filter(meter::Column::ExternalId.eq(external_id.trim()))
            .one(self.db.conn())
            .await?
            .ok_or_else(|| ApiError::not_found("meter", external_id))
    }

    /// Meters by id within the principal's tenancy (for DataLoaders); ids of
    /// other partners' meters are simply absent from the result.
    pub async fn by_ids(
        &self,
        tenant: &Tenant,
        ids: &[String],
    ) -> ApiResult<HashMap<String, meter::Model>> {
        let rows = scoped(meter::Entity::find(), tenant)
            .filter(meter::Column::Id.is_in(ids.iter().cloned()))
            .all(self.db.conn())
            .await?;
        Ok(rows.into_iter().map(|m| (m.id.clone(), m)).collect())
    }

    pub async fn list(
        &self,
        principal: &Principal,
        partner_id: Option<&str>,
        filter: &MeterFilter,
        page: &PageRequest,
    ) -> ApiResult<Page<meter::Model>> {
        Self::require_inventory_role(principal)?;
        let tenant = principal.tenant(partner_id)?;
        let mut query = filtered(&tenant, filter)?;
        query = match page {
            PageRequest::Forward { after, first } => {
                if let Some(after) = after {
                    query = query.filter(meter::Column::Id.gt(after.clone()));
                }
                query
                    .order_by_asc(meter::Column::Id)
                    .limit(*first as u64 + 1)
            }
            PageRequest::Backward { before, last } => {
                if let Some(before) = before {
                    query = query.filter(meter::Column::Id.lt(before.clone()));
                }
                query
                    .order_by_desc(meter::Column::Id)
                    .limit(*last as u64 + 1)
            }
        };
        let rows = query.all(self.db.conn()).await?;
        Ok(Page::from_fetched(page, rows))
    }

    pub async fn count(
        &self,
        principal: &Principal,
        partner_id: Option<&str>,
        filter: &MeterFilter,
    ) -> ApiResult<u64> {
        Self::require_inventory_role(principal)?;
        let tenant = principal.tenant(partner_id)?;
        Ok(filtered(&tenant, filter)?.count(self.db.conn()).await?)
    }

    /// Creates meters, all or none. Existing external ids are a conflict (use
    /// [`MeterService::upsert`] to sync).
    pub async fn create(
        &self,
        principal: &Principal,
        partner_id: Option<&str>,
        mut specs: Vec<MeterSpec>,
        idempotency_key: Option<String>,
    ) -> ApiResult<Vec<meter::Model>> {
        Self::require_inventory_role(principal)?;
        let partner_id = principal.acting_partner(partner_id)?;
        validate_batch(&mut specs)?;
        let idem = idempotency_key
            .map(|key| IdempotencyKey::new(principal, key, "createMeters", &(&partner_id, &specs)))
            .transpose()?;

        let txn = match idempotency::start::<Vec<String>>(&self.db, idem.as_ref()).await? {
            Start::Replay(ids) => return self.in_order(&Tenant::All, &ids).await,
            Start::Fresh(txn) => txn,
        };
        ensure_partner(&*txn, &partner_id).await?;
        let existing = existing_by_external_id(&*txn, &partner_id, &specs).await?;
        let conflicts: Vec<String> = specs
            .iter()
            .enumerate()
            .filter_map(|(row, spec)| {
                existing.get(&spec.external_id).map(|m| {
                    format!(
                        "inputs[{row}].externalId: `{}` already exists as meter {}; use upsertMeters to sync inventory",
                        spec.external_id, m.id
                    )
                })
            })
            .collect();
        if !conflicts.is_empty() {
            return Err(ApiError::Conflict(conflicts.join("; ")));
        }
        let now = Utc::now();
        let rows: Vec<meter::ActiveModel> = specs
            .iter()
            .map(|spec| new_row(spec, &partner_id, now))
            .collect();
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone().unwrap()).collect();
        insert_chunked(&*txn, rows).await?;
        idempotency::finish(txn, idem.as_ref(), &ids).await?;
        tracing::info!(partner_id = %partner_id, count = ids.len(), "meters created");
        self.in_order(&Tenant::All, &ids).await
    }

    /// Inventory sync: each row is the full record of the meter with that
    /// external id, created if new, replaced if different, untouched if equal.
    /// Sending the same batch twice changes nothing the second time.
    pub async fn upsert(
        &self,
        principal: &Principal,
        partner_id: Option<&str>,
        mut specs: Vec<MeterSpec>,
    ) -> ApiResult<UpsertOutcome> {
        Self::require_inventory_role(principal)?;
        let partner_id = principal.acting_partner(partner_id)?;
        validate_batch(&mut specs)?;

        let txn = self.db.begin_write().await?;
        ensure_partner(&*txn, &partner_id).await?;
        let existing = existing_by_external_id(&*txn, &partner_id, &specs).await?;
        let now = Utc::now();
        let mut outcome = UpsertOutcome {
            created: 0,
            updated: 0,
            unchanged: 0,
            meter_ids: Vec::with_capacity(specs.len()),
        };
        let mut inserts = Vec::new();
        for spec in &specs {
            match existing.get(&spec.external_id) {
                None => {
                    let row = new_row(spec, &partner_id, now);
                    outcome.meter_ids.push(row.id.clone().unwrap());
                    inserts.push(row);
                    outcome.created += 1;
                }
                Some(current) => {
                    outcome.meter_ids.push(current.id.clone());
                    check_authorized_identity(current, spec)?;
                    if to_spec(current)? == *spec {
                        outcome.unchanged += 1;
                    } else {
                        let mut row: meter::ActiveModel = current.clone().into();
                        write_spec(&mut row, spec);
                        row.updated_at = Set(now);
                        row.update(&*txn).await?;
                        outcome.updated += 1;
                    }
                }
            }
        }
        insert_chunked(&*txn, inserts).await?;
        txn.commit().await?;
        tracing::info!(
            partner_id = %partner_id,
            created = outcome.created,
            updated = outcome.updated,
            unchanged = outcome.unchanged,
            "meters upserted"
        );
        Ok(outcome)
    }

    pub async fn update(
        &self,
        principal: &Principal,
        id: &str,
        patch: crate::domain::meter::MeterPatch,
    ) -> ApiResult<meter::Model> {
        let txn = self.db.begin_write().await?;
        let current = self.get_in(&*txn, principal, id).await?;
        let mut spec = to_spec(&current)?;
        patch.apply(&mut spec);
        spec.normalize();
        let errors = spec.validate("input.");
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        if spec == to_spec(&current)? {
            return Ok(current);
        }
        check_authorized_identity(&current, &spec)?;
        if spec.external_id != current.external_id {
            let taken = meter::Entity::find()
                .filter(meter::Column::PartnerId.eq(current.partner_id.clone()))
                .filter(meter::Column::ExternalId.eq(spec.external_id.clone()))
                .one(&*txn)
                .await?;
            if let Some(other) = taken {
                return Err(ApiError::Conflict(format!(
                    "externalId `{}` is already used by meter {}",
                    spec.external_id, other.id
                )));
            }
        }
        let mut row: meter::ActiveModel = current.into();
        write_spec(&mut row, &spec);
        row.updated_at = Set(Utc::now());
        let updated = row.update(&*txn).await?;
        txn.commit().await?;
        Ok(updated)
    }

    /// Deactivates (`active = false`, with a reason) or reactivates a meter.
    pub async fn set_active(
        &self,
        principal: &Principal,
        id: &str,
        active: bool,
        reason: Option<String>,
    ) -> ApiResult<meter::Model> {
        let reason = reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        if reason.as_ref().is_some_and(|r| r.len() > 500) {
            return Err(ApiError::validation(
                "reason",
                "must be at most 500 characters",
            ));
        }
        let txn = self.db.begin_write().await?;
        let current = self.get_in(&*txn, principal, id).await?;
        let target = if active {
            MeterStatus::Active
        } else {
            MeterStatus::Inactive
        };
        if current.status == target.as_str() {
            return Ok(current);
        }
        let now = Utc::now();
        let mut row: meter::ActiveModel = current.into();
        row.status = Set(target.as_str().to_owned());
        row.deactivated_at = Set((!active).then_some(now));
        row.deactivation_reason = Set(if active { None } else { reason });
        row.updated_at = Set(now);
        let updated = row.update(&*txn).await?;
        txn.commit().await?;
        tracing::info!(meter_id = %updated.id, status = %target, "meter status changed");
        Ok(updated)
    }

    async fn get_in(
        &self,
        conn: &impl ConnectionTrait,
        principal: &Principal,
        id: &str,
    ) -> ApiResult<meter::Model> {
        Self::require_inventory_role(principal)?;
        let tenant = principal.tenant(None)?;
        scoped(meter::Entity::find_by_id(id.to_owned()), &tenant)
            .one(conn)
            .await?
            .ok_or_else(|| ApiError::not_found("meter", id))
    }

    /// Meters in the order of `ids`, within `tenant`; any id not visible there
    /// is `NOT_FOUND` (another partner's meter looks like a missing one).
    pub async fn in_order(&self, tenant: &Tenant, ids: &[String]) -> ApiResult<Vec<meter::Model>> {
        let mut by_id = self.by_ids(tenant, ids).await?;
        ids.iter()
            .map(|id| {
                by_id
                    .remove(id)
                    .ok_or_else(|| ApiError::not_found("meter", id))
            })
            .collect()
    }
}

fn scoped(query: Select<meter::Entity>, tenant: &Tenant) -> Select<meter::Entity> {
    match tenant.partner_id() {
        Some(pid) => query.filter(meter::Column::PartnerId.eq(pid)),
        None => query,
    }
}

fn filtered(tenant: &Tenant, filter: &MeterFilter) -> ApiResult<Select<meter::Entity>> {
    fn any_of<T: Copy>(
        values: &Option<Vec<T>>,
        f: impl Fn(T) -> &'static str,
    ) -> Option<Vec<&'static str>> {
        values.as_ref().map(|v| v.iter().map(|x| f(*x)).collect())
    }
    let mut cond = Condition::all();
    if let Some(v) = any_of(&filter.regions, Region::as_str) {
        cond = cond.add(meter::Column::Region.is_in(v));
    }
    if let Some(v) = any_of(&filter.kinds, MeterKind::as_str) {
        cond = cond.add(meter::Column::Kind.is_in(v));
    }
    if let Some(v) = any_of(&filter.statuses, MeterStatus::as_str) {
        cond = cond.add(meter::Column::Status.is_in(v));
    }
    if let Some(v) = any_of(&filter.authorization_statuses, AuthorizationStatus::as_str) {
        cond = cond.add(meter::Column::AuthorizationStatus.is_in(v));
    }
    if let Some(utilities) = &filter.utilities {
        let codes: Vec<String> = utilities
            .iter()
            .map(|u| u.trim().to_ascii_uppercase())
            .collect();
        cond = cond.add(meter::Column::Utility.is_in(codes));
    }
    if let Some(external_ids) = &filter.external_ids {
        if external_ids.len() > MAX_EXTERNAL_ID_FILTER {
            return Err(ApiError::validation(
                "filter.externalIds",
                format!("at most {MAX_EXTERNAL_ID_FILTER} external ids per query"),
            ));
        }
        cond = cond
            .add(meter::Column::ExternalId.is_in(external_ids.iter().map(|e| e.trim().to_owned())));
    }
    if let Some(since) = filter.updated_since {
        cond = cond.add(meter::Column::UpdatedAt.gte(since));
    }
    Ok(scoped(meter::Entity::find(), tenant).filter(cond))
}

/// Normalizes and validates every row; one bad row fails the whole batch and
/// every problem is reported with its row.
fn validate_batch(specs: &mut [MeterSpec]) -> ApiResult<()> {
    let mut v = Validator::default();
    if specs.is_empty() {
        v.field("inputs", "give at least one meter");
    }
    if specs.len() > MAX_BATCH {
        v.field(
            "inputs",
            format!(
                "at most {MAX_BATCH} meters per request (got {})",
                specs.len()
            ),
        );
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (row, spec) in specs.iter_mut().enumerate() {
        spec.normalize();
        v.extend(
            spec.validate(&format!("inputs[{row}]."))
                .into_iter()
                .map(|e| e.in_row(row)),
        );
        if let Some(first) = seen.insert(spec.external_id.clone(), row) {
            v.push(
                FieldError::new(
                    format!("inputs[{row}].externalId"),
                    format!(
                        "`{}` also appears in row {first} of this batch",
                        spec.external_id
                    ),
                )
                .in_row(row),
            );
        }
    }
    v.finish()
}

async fn ensure_partner(conn: &impl ConnectionTrait, partner_id: &str) -> ApiResult<()> {
    partner::Entity::find_by_id(partner_id.to_owned())
        .one(conn)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::not_found("partner", partner_id))
}

async fn existing_by_external_id(
    conn: &impl ConnectionTrait,
    partner_id: &str,
    specs: &[MeterSpec],
) -> ApiResult<HashMap<String, meter::Model>> {
    let wanted: HashSet<&str> = specs.iter().map(|s| s.external_id.as_str()).collect();
    let rows = meter::Entity::find()
        .filter(meter::Column::PartnerId.eq(partner_id))
        .filter(meter::Column::ExternalId.is_in(wanted))
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|m| (m.external_id.clone(), m))
        .collect())
}

async fn insert_chunked(
    conn: &impl ConnectionTrait,
    rows: Vec<meter::ActiveModel>,
) -> ApiResult<()> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
        meter::Entity::insert_many(chunk)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// A meter the customer authorized (Connect) keeps the utility account it
/// was authorized for: changing it would share another account's data.
fn check_authorized_identity(current: &meter::Model, spec: &MeterSpec) -> ApiResult<()> {
    let authorized = current.authorization_status == AuthorizationStatus::Authorized.as_str();
    if authorized
        && (spec.utility != current.utility
            || spec.utility_account_number != current.utility_account_number
            || spec.utility_service_id != current.utility_service_id)
    {
        return Err(ApiError::Conflict(format!(
            "meter {} is authorized by the customer for {} service {}; its utility, \
             utilityAccountNumber and utilityServiceId cannot change while authorized \
             (revoke the authorization first)",
            current.id,
            current.utility.as_deref().unwrap_or("?"),
            current.utility_service_id.as_deref().unwrap_or("?"),
        )));
    }
    Ok(())
}

pub(crate) fn new_row(
    spec: &MeterSpec,
    partner_id: &str,
    now: chrono::DateTime<Utc>,
) -> meter::ActiveModel {
    let mut row = meter::ActiveModel {
        id: Set(ids::new_id(ids::METER)),
        partner_id: Set(partner_id.to_owned()),
        authorization_status: Set(AuthorizationStatus::NotAuthorized.as_str().to_owned()),
        status: Set(MeterStatus::Active.as_str().to_owned()),
        deactivated_at: Set(None),
        deactivation_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    write_spec(&mut row, spec);
    row
}

/// Sets every column that a [`MeterSpec`] describes.
pub(crate) fn write_spec(row: &mut meter::ActiveModel, spec: &MeterSpec) {
    let address = spec.service_address.clone().unwrap_or_default();
    row.external_id = Set(spec.external_id.clone());
    row.kind = Set(spec.kind.as_str().to_owned());
    row.device_type = Set(spec.device_type.map(|d| d.as_str().to_owned()));
    row.region = Set(spec.region.as_str().to_owned());
    row.iso = Set(spec.iso().as_str().to_owned());
    row.utility = Set(spec.utility.clone());
    row.load_zone = Set(spec.load_zone.clone());
    row.customer_class = Set(spec.customer_class.map(|c| c.as_str().to_owned()));
    row.address_line1 = Set(address.line1);
    row.address_line2 = Set(address.line2);
    row.city = Set(address.city);
    row.state = Set(address.state);
    row.postal_code = Set(address.postal_code);
    row.capacity_kw = Set(spec.capacity_kw);
    row.energy_kwh = Set(spec.energy_kwh);
    row.utility_account_number = Set(spec.utility_account_number.clone());
    row.utility_service_id = Set(spec.utility_service_id.clone());
    row.esi_id = Set(spec.esi_id.clone());
    row.network_tier = Set(spec.network_tier.map(|t| t.as_str().to_owned()));
    row.commercial_operation_date = Set(spec.commercial_operation_date.map(Into::into));
    row.colocated_renewable_kw = Set(spec.colocated_renewable_kw);
    row.attributes = Set(spec
        .attributes
        .as_ref()
        .map(|a| a.0.clone())
        .unwrap_or_else(|| serde_json::json!({})));
}

/// The spec a stored meter corresponds to (inverse of [`write_spec`]).
/// Meters by id whoever owns them, for background work (performance,
/// settlement) that spans partners; in chunks that fit any database's
/// parameter limit.
pub async fn any_by_ids(db: &Db, ids: &[String]) -> ApiResult<HashMap<String, meter::Model>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        for m in meter::Entity::find()
            .filter(meter::Column::Id.is_in(chunk.iter().cloned()))
            .all(db.conn())
            .await?
        {
            out.insert(m.id.clone(), m);
        }
    }
    Ok(out)
}

pub fn to_spec(m: &meter::Model) -> ApiResult<MeterSpec> {
    let address = ServiceAddress {
        line1: m.address_line1.clone(),
        line2: m.address_line2.clone(),
        city: m.city.clone(),
        state: m.state.clone(),
        postal_code: m.postal_code.clone(),
    };
    let empty_attributes = m.attributes.as_object().is_some_and(|o| o.is_empty());
    Ok(MeterSpec {
        external_id: m.external_id.clone(),
        kind: MeterKind::from_db(&m.kind)?,
        device_type: m
            .device_type
            .as_deref()
            .map(DeviceType::from_db)
            .transpose()?,
        region: Region::from_db(&m.region)?,
        utility: m.utility.clone(),
        load_zone: m.load_zone.clone(),
        customer_class: m
            .customer_class
            .as_deref()
            .map(CustomerClass::from_db)
            .transpose()?,
        service_address: (address != ServiceAddress::default()).then_some(address),
        capacity_kw: m.capacity_kw,
        energy_kwh: m.energy_kwh,
        utility_account_number: m.utility_account_number.clone(),
        utility_service_id: m.utility_service_id.clone(),
        esi_id: m.esi_id.clone(),
        network_tier: m
            .network_tier
            .as_deref()
            .map(NetworkTier::from_db)
            .transpose()?,
        commercial_operation_date: m.commercial_operation_date.map(Into::into),
        colocated_renewable_kw: m.colocated_renewable_kw,
        attributes: (!empty_attributes).then(|| Json(m.attributes.clone())),
    })
}
