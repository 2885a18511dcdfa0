//! Regions, ISOs, utilities and load zones that meters and programs refer to.

use super::string_enum;

string_enum! {
    /// A US state market region served by gridhub.
    pub enum Region {
        Ca => "CA",
        Ny => "NY",
        Tx => "TX",
        Ma => "MA",
    }
}

string_enum! {
    /// Independent system operator.
    pub enum Iso {
        Caiso => "CAISO",
        Nyiso => "NYISO",
        Ercot => "ERCOT",
        IsoNe => "ISONE",
    }
}

impl Region {
    /// Every region lies in exactly one ISO.
    pub fn iso(self) -> Iso {
        match self {
            Region::Ca => Iso::Caiso,
            Region::Ny => Iso::Nyiso,
            Region::Tx => Iso::Ercot,
            Region::Ma => Iso::IsoNe,
        }
    }

    /// The two-letter state code of a service address in this region.
    pub fn state_code(self) -> &'static str {
        self.as_str()
    }
}

/// A utility (distribution company) that meters can belong to.
#[derive(Debug, Clone, Copy)]
pub struct Utility {
    pub code: &'static str,
    pub name: &'static str,
    pub regions: &'static [Region],
    /// Municipal or cooperative utilities are excluded by some programs.
    pub municipal: bool,
}

const fn utility(code: &'static str, name: &'static str, regions: &'static [Region]) -> Utility {
    Utility {
        code,
        name,
        regions,
        municipal: false,
    }
}

const fn municipal(code: &'static str, name: &'static str, regions: &'static [Region]) -> Utility {
    Utility {
        code,
        name,
        regions,
        municipal: true,
    }
}

pub const UTILITIES: &[Utility] = &[
    utility("PGE", "Pacific Gas and Electric", &[Region::Ca]),
    utility("SCE", "Southern California Edison", &[Region::Ca]),
    utility("SDGE", "San Diego Gas & Electric", &[Region::Ca]),
    municipal(
        "LADWP",
        "Los Angeles Department of Water and Power",
        &[Region::Ca],
    ),
    municipal(
        "SMUD",
        "Sacramento Municipal Utility District",
        &[Region::Ca],
    ),
    utility("CONED", "Consolidated Edison", &[Region::Ny]),
    utility("NATIONAL_GRID", "National Grid", &[Region::Ny, Region::Ma]),
    utility("NYSEG", "New York State Electric & Gas", &[Region::Ny]),
    utility("RGE", "Rochester Gas and Electric", &[Region::Ny]),
    utility(
        "CENTRAL_HUDSON",
        "Central Hudson Gas & Electric",
        &[Region::Ny],
    ),
    utility(
        "ORANGE_ROCKLAND",
        "Orange and Rockland Utilities",
        &[Region::Ny],
    ),
    utility("PSEG_LI", "PSEG Long Island", &[Region::Ny]),
    utility("ONCOR", "Oncor Electric Delivery", &[Region::Tx]),
    utility("CENTERPOINT", "CenterPoint Energy", &[Region::Tx]),
    utility("AEP_TEXAS", "AEP Texas", &[Region::Tx]),
    utility("TNMP", "Texas-New Mexico Power", &[Region::Tx]),
    municipal("AUSTIN_ENERGY", "Austin Energy", &[Region::Tx]),
    municipal("CPS_ENERGY", "CPS Energy", &[Region::Tx]),
    utility("EVERSOURCE", "Eversource", &[Region::Ma]),
    utility("UNITIL", "Unitil", &[Region::Ma]),
    utility("CAPE_LIGHT_COMPACT", "Cape Light Compact", &[Region::Ma]),
    municipal(
        "MA_MUNICIPAL",
        "Massachusetts municipal light plant",
        &[Region::Ma],
    ),
];

pub fn find_utility(code: &str) -> Option<&'static Utility> {
    UTILITIES.iter().find(|u| u.code == code)
}

/// Load zones by ISO (NYISO zones A–K, ERCOT load zones, CAISO default LAPs,
/// ISO-NE load zones).
pub fn load_zones(iso: Iso) -> &'static [&'static str] {
    match iso {
        Iso::Nyiso => &["A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K"],
        Iso::Ercot => &[
            "LZ_HOUSTON",
            "LZ_NORTH",
            "LZ_SOUTH",
            "LZ_WEST",
            "LZ_AEN",
            "LZ_CPS",
            "LZ_LCRA",
            "LZ_RAYBN",
        ],
        Iso::Caiso => &["DLAP_PGAE", "DLAP_SCE", "DLAP_SDGE"],
        Iso::IsoNe => &["SEMA", "WCMA", "NEMA", "ME", "NH", "VT", "CT", "RI"],
    }
}

/// True when `zone` is a load zone of `iso`. CAISO sub-LAPs (`SLAP_…`) are
/// accepted by shape since there are dozens and they change.
pub fn is_load_zone(iso: Iso, zone: &str) -> bool {
    if load_zones(iso).contains(&zone) {
        return true;
    }
    iso == Iso::Caiso
        && zone.len() > 5
        && zone.len() <= 40
        && zone.starts_with("SLAP_")
        && zone[5..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_utility_code_is_unique_and_upper_case() {
        for (i, u) in UTILITIES.iter().enumerate() {
            assert!(u.code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'));
            assert!(UTILITIES[i + 1..].iter().all(|o| o.code != u.code));
        }
    }

    #[test]
    fn load_zones_belong_to_their_iso() {
        assert!(is_load_zone(Iso::Nyiso, "J"));
        assert!(!is_load_zone(Iso::Nyiso, "LZ_HOUSTON"));
        assert!(is_load_zone(Iso::Caiso, "SLAP_PGF1-APND"));
        assert!(!is_load_zone(Iso::Caiso, "SLAP_"));
    }
}
