//! Names from a client certificate the TLS layer has already verified:
//! SAN dNSName and URI entries (parsed by `rustls-webpki`, the parser rustls
//! itself uses) and the subject CN (a small bounds-checked DER walk).

use super::Principal;
use super::mtls::{ClientCertNames, MtlsError, MtlsMapper};

const MAX_NAMES: usize = 64;
/// DER of OID 2.5.4.3 (commonName).
const CN_OID: &[u8] = &[0x55, 0x04, 0x03];

/// Names owned, as taken from a certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertNames {
    /// SAN dNSName entries.
    pub dns: Vec<String>,
    /// SAN URI entries.
    pub uris: Vec<String>,
    /// The subject CN, if there is exactly one.
    pub common_name: Option<String>,
}

/// One DER TLV: (tag, contents, rest). Short and 1–2 byte long lengths.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *input.first()?;
    let first = *input.get(1)?;
    let (len, header) = match first {
        n if n < 0x80 => (usize::from(n), 2usize),
        0x81 => (usize::from(*input.get(2)?), 3),
        0x82 => (
            (usize::from(*input.get(2)?) << 8) | usize::from(*input.get(3)?),
            4,
        ),
        _ => return None,
    };
    let end = header.checked_add(len)?;
    Some((tag, input.get(header..end)?, input.get(end..)?))
}

/// The CN values in a Name's contents (a SEQUENCE OF SET OF AttributeTypeAndValue).
fn common_names(mut name: &[u8]) -> Option<Vec<String>> {
    let mut found = Vec::new();
    while !name.is_empty() {
        let (tag, mut set, rest) = tlv(name)?;
        if tag != 0x31 {
            return None;
        }
        while !set.is_empty() {
            let (tag, atv, more) = tlv(set)?;
            if tag != 0x30 {
                return None;
            }
            let (oid_tag, oid, value) = tlv(atv)?;
            let (value_tag, value, _) = tlv(value)?;
            if oid_tag == 0x06 && oid == CN_OID {
                // UTF8String, PrintableString, IA5String only.
                if !matches!(value_tag, 0x0c | 0x13 | 0x16) {
                    return None;
                }
                found.push(std::str::from_utf8(value).ok()?.to_owned());
            }
            set = more;
        }
        name = rest;
    }
    Some(found)
}

/// The one element, or `None` when there are none or several (ambiguous).
fn single(values: Vec<String>) -> Option<String> {
    <[String; 1]>::try_from(values).ok().map(|[v]| v)
}

impl CertNames {
    /// Takes the names from a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, MtlsError> {
        let der = rustls::pki_types::CertificateDer::from(der);
        let cert = webpki::EndEntityCert::try_from(&der).map_err(|_| MtlsError::BadCertificate)?;
        let dns: Vec<String> = cert.valid_dns_names().map(str::to_owned).collect();
        let uris: Vec<String> = cert.valid_uri_names().map(str::to_owned).collect();
        if dns.len() > MAX_NAMES || uris.len() > MAX_NAMES {
            return Err(MtlsError::BadCertificate);
        }
        let cns = common_names(cert.subject()).ok_or(MtlsError::BadCertificate)?;
        Ok(Self {
            dns,
            uris,
            common_name: single(cns),
        })
    }
}

impl MtlsMapper {
    /// Maps owned names (see [`CertNames::from_der`]).
    pub fn map_names(&self, names: &CertNames) -> Result<Principal, MtlsError> {
        let dns: Vec<&str> = names.dns.iter().map(String::as_str).collect();
        let uris: Vec<&str> = names.uris.iter().map(String::as_str).collect();
        self.map(&ClientCertNames {
            dns: &dns,
            uris: &uris,
            common_name: names.common_name.as_deref(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::MtlsConfig;

    fn cert(sans: Vec<rcgen::SanType>, cns: &[&str]) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::default();
        params.subject_alt_names = sans;
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::OrganizationName, "Example Test");
        for cn in cns {
            dn.push(rcgen::DnType::CommonName, *cn);
        }
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().expect("test key");
        params.self_signed(&key).expect("test cert").der().to_vec()
    }

    #[test]
    fn names_are_taken_from_a_real_certificate_and_mapped() {
        let der = cert(
            vec![
                rcgen::SanType::DnsName("agent.example.test".try_into().expect("dns")),
                rcgen::SanType::URI("spiffe://example.test/agent/7".try_into().expect("uri")),
            ],
            &["agent-7"],
        );
        let names = CertNames::from_der(&der).expect("parses");
        assert_eq!(names.dns, ["agent.example.test"]);
        assert_eq!(names.uris, ["spiffe://example.test/agent/7"]);
        assert_eq!(names.common_name.as_deref(), Some("agent-7"));
        let config: MtlsConfig = toml::from_str(
            "[[rules]]\nsan_uri = \"spiffe://example.test/agent/*\"\nroles = [\"agent\"]",
        )
        .expect("rules");
        let p = MtlsMapper::new(&config)
            .expect("valid")
            .map_names(&names)
            .expect("maps");
        assert_eq!(p.subject, "spiffe://example.test/agent/7");
    }

    #[test]
    fn garbage_is_refused() {
        let der = cert(vec![], &[]);
        assert_eq!(
            CertNames::from_der(&der).expect("parses"),
            CertNames::default()
        );
        assert_eq!(
            CertNames::from_der(b"not a certificate"),
            Err(MtlsError::BadCertificate)
        );
        let mut truncated = cert(vec![], &["a"]);
        truncated.truncate(truncated.len() / 2);
        assert_eq!(
            CertNames::from_der(&truncated),
            Err(MtlsError::BadCertificate)
        );
    }

    #[test]
    fn der_walker_is_bounds_checked() {
        assert_eq!(tlv(&[]), None);
        assert_eq!(tlv(&[0x30]), None);
        assert_eq!(tlv(&[0x30, 0x05, 1, 2]), None);
        assert_eq!(tlv(&[0x30, 0x83, 0, 0, 1]), None);
        assert_eq!(
            tlv(&[0x30, 0x01, 9, 7]),
            Some((0x30, &[9u8][..], &[7u8][..]))
        );
        assert_eq!(common_names(&[0x30, 0x00]), None, "a Name holds SETs");
        // SET { SEQ { OID cn, BMPString } }: not a string type we accept.
        let bmp = [
            0x31, 0x09, 0x30, 0x07, 0x06, 0x03, 0x55, 0x04, 0x03, 0x1e, 0x00,
        ];
        assert_eq!(common_names(&bmp), None);
        let utf8 = [
            0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x01, b'x',
        ];
        assert_eq!(common_names(&utf8), Some(vec!["x".to_string()]));
        // Two CNs: both found, so `from_der` keeps neither (ambiguous).
        let two = [utf8.as_slice(), utf8.as_slice()].concat();
        assert_eq!(common_names(&two).map(|v| v.len()), Some(2));
        assert_eq!(single(vec!["x".into(), "y".into()]), None);
        assert_eq!(single(vec!["x".into()]), Some("x".into()));
    }
}
