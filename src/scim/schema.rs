//! Schemas as data: the core User and Group schemas, the Enterprise User extension and the common
//! attributes (RFC 7643 §3.1, §4, §8.7), plus the registry that resolves attribute names.
//!
//! Nothing here is hand-written per attribute elsewhere: validation (`resource.rs`), filters, PATCH paths,
//! `attributes`/`excludedAttributes` and the `/Schemas` documents all read these definitions.
//! Attribute names are matched case-insensitively (RFC 7643 §2.1) and always written back canonically.

use std::str::FromStr;

use serde_json::{json, Map, Value};
use strum::{EnumString, IntoStaticStr, VariantNames};

/// URN of the core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// URN of the core Group schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// URN of the Enterprise User extension.
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Legacy group schema URI Entra ID still puts into `schemas` (idp-behavior §4); accepted and ignored.
pub const LEGACY_MS_GROUP_SCHEMA: &str =
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

/// The data type of an attribute (RFC 7643 §2.3).
///
/// The strum derives are the only table of the names (`string`, …, `dateTime`): [`Self::as_str`]
/// writes them into `/Schemas`, and `FromStr` reads extension declarations case-insensitively.
/// The filter evaluator uses this same enum as `filter::AttrKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "camelCase", ascii_case_insensitive)]
pub enum AttrType {
    /// A JSON string.
    String,
    /// `true`/`false` (string forms are coerced on input).
    Boolean,
    /// A JSON number.
    Decimal,
    /// A JSON integer.
    Integer,
    /// An RFC 3339 timestamp string.
    DateTime,
    /// Base64 text.
    Binary,
    /// A URI string.
    Reference,
    /// An object of sub-attributes.
    Complex,
}

impl AttrType {
    /// The name used in `/Schemas` documents.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Who may write an attribute (RFC 7643 §7). Names (`readOnly`, …) come from the strum derives,
/// as for [`AttrType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "camelCase", ascii_case_insensitive)]
pub enum Mutability {
    /// Set by the server only; client values are ignored.
    ReadOnly,
    /// Freely written.
    ReadWrite,
    /// Written once; later different values are rejected.
    Immutable,
    /// Accepted but never returned.
    WriteOnly,
}

impl Mutability {
    /// The name used in `/Schemas` documents.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// When an attribute is returned (RFC 7643 §7). Names (`always`, …) come from the strum
/// derives, as for [`AttrType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "camelCase", ascii_case_insensitive)]
pub enum Returned {
    /// Even when excluded.
    Always,
    /// Never, whatever is asked.
    Never,
    /// Unless excluded.
    Default,
    /// Only when named in `attributes`.
    Request,
}

impl Returned {
    /// The name used in `/Schemas` documents.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Uniqueness promise of an attribute (RFC 7643 §7). Names (`none`, …) come from the strum
/// derives, as for [`AttrType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumString, IntoStaticStr, VariantNames)]
#[strum(serialize_all = "camelCase", ascii_case_insensitive)]
pub enum Uniqueness {
    /// No promise.
    None,
    /// Unique within this server.
    Server,
    /// Globally unique.
    Global,
}

impl Uniqueness {
    /// The name used in `/Schemas` documents.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One attribute definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// Canonical name, as written back to clients.
    pub name: String,
    /// Data type.
    pub kind: AttrType,
    /// Whether the value is an array.
    pub multi_valued: bool,
    /// Text for `/Schemas`.
    pub description: String,
    /// Whether a resource must carry it.
    pub required: bool,
    /// Whether string comparison is case-sensitive.
    pub case_exact: bool,
    /// Who may write it.
    pub mutability: Mutability,
    /// When it is returned.
    pub returned: Returned,
    /// Uniqueness promise.
    pub uniqueness: Uniqueness,
    /// Suggested values (documented, not enforced: IdPs send others).
    pub canonical_values: Vec<String>,
    /// For references: what they point at.
    pub reference_types: Vec<String>,
    /// For complex attributes: the sub-attributes.
    pub sub_attributes: Vec<Attribute>,
}

impl Attribute {
    fn new(name: &str, kind: AttrType, description: &str) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            multi_valued: false,
            description: description.to_owned(),
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        }
    }
    fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    fn required(mut self) -> Self {
        self.required = true;
        self
    }
    fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    fn unique(mut self) -> Self {
        self.uniqueness = Uniqueness::Server;
        self
    }
    fn canonical(mut self, values: &[&str]) -> Self {
        self.canonical_values = values.iter().map(|v| (*v).to_owned()).collect();
        self
    }
    fn refs(mut self, types: &[&str]) -> Self {
        self.reference_types = types.iter().map(|v| (*v).to_owned()).collect();
        self
    }
    fn subs(mut self, subs: Vec<Attribute>) -> Self {
        self.sub_attributes = subs;
        self
    }

    /// The sub-attribute called `name` (case-insensitive).
    pub fn sub(&self, name: &str) -> Option<&Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The `/Schemas` representation (camelCase, no nulls).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.kind.as_str()));
        m.insert("multiValued".into(), json!(self.multi_valued));
        m.insert("description".into(), json!(self.description));
        m.insert("required".into(), json!(self.required));
        if matches!(
            self.kind,
            AttrType::String | AttrType::Reference | AttrType::Binary
        ) {
            m.insert("caseExact".into(), json!(self.case_exact));
        }
        if !self.canonical_values.is_empty() {
            m.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if !self.reference_types.is_empty() {
            m.insert("referenceTypes".into(), json!(self.reference_types));
        }
        m.insert("mutability".into(), json!(self.mutability.as_str()));
        m.insert("returned".into(), json!(self.returned.as_str()));
        if self.kind != AttrType::Complex {
            m.insert("uniqueness".into(), json!(self.uniqueness.as_str()));
        }
        if !self.sub_attributes.is_empty() {
            m.insert(
                "subAttributes".into(),
                Value::Array(self.sub_attributes.iter().map(Attribute::to_json).collect()),
            );
        }
        Value::Object(m)
    }
}

/// A schema: a URN and its attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// The schema URN.
    pub id: String,
    /// Short name.
    pub name: String,
    /// Text for `/Schemas`.
    pub description: String,
    /// Top-level attributes.
    pub attributes: Vec<Attribute>,
}

impl Schema {
    /// The attribute called `name` (case-insensitive).
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The `/Schemas/{id}` document.
    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(Attribute::to_json).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "Schema",
                "location": format!("{base_url}/Schemas/{}", self.id),
            }
        })
    }
}

/// The two resource types scimd serves. The strum derives name them (`User`, `Group`) for
/// `meta.resourceType` and read the `resource` of extension declarations case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumString, IntoStaticStr, VariantNames)]
#[strum(ascii_case_insensitive)]
pub enum ResourceKind {
    /// `/Users`
    User,
    /// `/Groups`
    Group,
}

impl ResourceKind {
    /// `User` or `Group`, as in `meta.resourceType`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
    /// The endpoint path below the SCIM base.
    pub fn endpoint(self) -> &'static str {
        match self {
            Self::User => "/Users",
            Self::Group => "/Groups",
        }
    }
}

/// A resource type: its core schema and the extensions it accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    /// Which one.
    pub kind: ResourceKind,
    /// Core schema URN.
    pub schema: String,
    /// Extension URNs and whether each is required.
    pub extensions: Vec<(String, bool)>,
    /// Text for `/ResourceTypes`.
    pub description: String,
}

impl ResourceType {
    /// The `/ResourceTypes/{id}` document.
    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": self.kind.as_str(),
            "name": self.kind.as_str(),
            "endpoint": self.kind.endpoint(),
            "description": self.description,
            "schema": self.schema,
            "schemaExtensions": self.extensions.iter()
                .map(|(urn, required)| json!({"schema": urn, "required": required}))
                .collect::<Vec<_>>(),
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{base_url}/ResourceTypes/{}", self.kind.as_str()),
            }
        })
    }
}

/// Where an attribute lives in a stored document, with its definition.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    /// `None`: top level of the document; `Some(urn)`: inside the extension object under that key.
    pub container: Option<&'a str>,
    /// The top-level attribute.
    pub attr: &'a Attribute,
    /// The sub-attribute, when the path names one.
    pub sub: Option<&'a Attribute>,
}

impl Resolved<'_> {
    /// The definition of what the path addresses (the sub-attribute when there is one).
    pub fn target(&self) -> &Attribute {
        self.sub.unwrap_or(self.attr)
    }
}

/// All schemas and resource types the server knows. Built once at start and shared.
#[derive(Debug, Clone)]
pub struct Registry {
    schemas: Vec<Schema>,
    common: Vec<Attribute>,
    user: ResourceType,
    group: ResourceType,
    ignore_unknown: bool,
}

/// An extension schema declared in the configuration file (`[[extensions]]`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionDecl {
    /// Schema URN, e.g. `urn:ietf:params:scim:schemas:extension:Netskope:2.0:User`.
    pub schema: String,
    /// Short name for `/Schemas` (default: the URN's second-to-last segment).
    pub name: Option<String>,
    /// Text for `/Schemas`.
    #[serde(default)]
    pub description: String,
    /// `User` (default) or `Group`.
    #[serde(default = "default_resource")]
    pub resource: String,
    /// Whether every resource must carry it.
    #[serde(default)]
    pub required: bool,
    /// Its attributes.
    pub attributes: Vec<AttributeDecl>,
}

fn default_resource() -> String {
    ResourceKind::User.as_str().into()
}

/// One attribute of a declared extension.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeDecl {
    /// Attribute name.
    pub name: String,
    /// `string` (default), `boolean`, `decimal`, `integer`, `dateTime`, `binary`, `reference`, `complex`.
    #[serde(rename = "type", default = "default_type")]
    pub kind: String,
    /// Whether the value is an array.
    #[serde(default)]
    pub multi_valued: bool,
    /// Whether a resource must carry it.
    #[serde(default)]
    pub required: bool,
    /// Whether string comparison is case-sensitive.
    #[serde(default)]
    pub case_exact: bool,
    /// `readWrite` (default), `readOnly`, `immutable`, `writeOnly`.
    #[serde(default = "default_mutability")]
    pub mutability: String,
    /// `default` (default), `always`, `never`, `request`.
    #[serde(default = "default_returned")]
    pub returned: String,
    /// Text for `/Schemas`.
    #[serde(default)]
    pub description: String,
    /// Suggested values.
    #[serde(default)]
    pub canonical_values: Vec<String>,
    /// For `complex`: the sub-attributes (which cannot be complex themselves).
    #[serde(default)]
    pub sub_attributes: Vec<AttributeDecl>,
}

fn default_type() -> String {
    AttrType::String.as_str().into()
}
fn default_mutability() -> String {
    Mutability::ReadWrite.as_str().into()
}
fn default_returned() -> String {
    Returned::Default.as_str().into()
}

/// Reads a declared name through the enum's one table; the error quotes the name lowercased,
/// as the configuration errors always have.
fn parse_name<T: FromStr>(text: &str, what: &str, at: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{at}: unknown {what} '{}'", text.to_ascii_lowercase()))
}

impl AttributeDecl {
    fn build(&self, depth: usize, at: &str) -> Result<Attribute, String> {
        let at = format!("{at}:{}", self.name);
        let valid_name = self
            .name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_name {
            return Err(format!(
                "{at}: attribute names start with a letter and hold letters, digits, '_' or '-'"
            ));
        }
        let kind: AttrType = parse_name(&self.kind, "type", &at)?;
        let mutability: Mutability = parse_name(&self.mutability, "mutability", &at)?;
        let returned: Returned = parse_name(&self.returned, "returned", &at)?;
        if kind == AttrType::Complex && depth > 0 {
            return Err(format!(
                "{at}: sub-attributes cannot be complex (RFC 7643 §2.3.8)"
            ));
        }
        if kind == AttrType::Complex && self.sub_attributes.is_empty() {
            return Err(format!("{at}: a complex attribute needs sub_attributes"));
        }
        if kind != AttrType::Complex && !self.sub_attributes.is_empty() {
            return Err(format!("{at}: only complex attributes have sub_attributes"));
        }
        let mut subs = Vec::new();
        for sub in &self.sub_attributes {
            if subs
                .iter()
                .any(|a: &Attribute| a.name.eq_ignore_ascii_case(&sub.name))
            {
                return Err(format!("{at}: sub-attribute '{}' declared twice", sub.name));
            }
            subs.push(sub.build(depth + 1, &at)?);
        }
        let mut a = Attribute::new(&self.name, kind, &self.description)
            .mutability(mutability)
            .returned(returned)
            .subs(subs);
        a.multi_valued = self.multi_valued;
        a.required = self.required;
        a.case_exact = self.case_exact;
        a.canonical_values = self.canonical_values.clone();
        Ok(a)
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::core()
    }
}

impl Registry {
    /// The standard registry: User (+ Enterprise User) and Group.
    pub fn core() -> Self {
        Self {
            schemas: vec![user_schema(), group_schema(), enterprise_user_schema()],
            common: common_attributes(),
            user: ResourceType {
                kind: ResourceKind::User,
                schema: USER_SCHEMA.into(),
                extensions: vec![(ENTERPRISE_USER_SCHEMA.into(), false)],
                description: "User Account".into(),
            },
            group: ResourceType {
                kind: ResourceKind::Group,
                schema: GROUP_SCHEMA.into(),
                extensions: Vec::new(),
                description: "Group".into(),
            },
            ignore_unknown: false,
        }
    }

    /// The core registry plus extensions from the configuration. `ignore_unknown` makes input
    /// attributes of unknown names or undeclared schemas be dropped instead of rejected.
    pub fn with_extensions(decls: &[ExtensionDecl], ignore_unknown: bool) -> Result<Self, String> {
        let mut reg = Self::core();
        reg.ignore_unknown = ignore_unknown;
        for d in decls {
            let urn = d.schema.trim();
            if !(urn.len() > 4 && urn[..4].eq_ignore_ascii_case("urn:")) || urn.ends_with(':') {
                return Err(format!("extension schema '{urn}' must be a URN (urn:…)"));
            }
            if reg.schema(urn).is_some() {
                return Err(format!(
                    "extension schema '{urn}' is declared twice or is a core schema"
                ));
            }
            let kind: ResourceKind = d.resource.parse().map_err(|_| {
                format!(
                    "{urn}: resource must be User or Group, not '{}'",
                    d.resource.to_ascii_lowercase()
                )
            })?;
            if d.attributes.is_empty() {
                return Err(format!("{urn}: declare at least one attribute"));
            }
            let mut attributes: Vec<Attribute> = Vec::new();
            for a in &d.attributes {
                if attributes
                    .iter()
                    .any(|x| x.name.eq_ignore_ascii_case(&a.name))
                {
                    return Err(format!("{urn}: attribute '{}' declared twice", a.name));
                }
                attributes.push(a.build(0, urn)?);
            }
            let name = d
                .name
                .clone()
                .unwrap_or_else(|| urn.rsplit(':').nth(2).unwrap_or("Extension").to_owned());
            reg.schemas.push(Schema {
                id: urn.to_owned(),
                name,
                description: d.description.clone(),
                attributes,
            });
            let rt = match kind {
                ResourceKind::User => &mut reg.user,
                ResourceKind::Group => &mut reg.group,
            };
            rt.extensions.push((urn.to_owned(), d.required));
        }
        Ok(reg)
    }

    /// Whether unknown input attributes are dropped (true) or rejected with 400 (false, default).
    pub fn ignore_unknown(&self) -> bool {
        self.ignore_unknown
    }

    /// Every schema, for `/Schemas`.
    pub fn schemas(&self) -> &[Schema] {
        &self.schemas
    }

    /// The schema with this URN (case-insensitive).
    pub fn schema(&self, urn: &str) -> Option<&Schema> {
        self.schemas.iter().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Both resource types, for `/ResourceTypes`.
    pub fn resource_types(&self) -> [&ResourceType; 2] {
        [&self.user, &self.group]
    }

    /// The resource type of `kind`.
    pub fn resource_type(&self, kind: ResourceKind) -> &ResourceType {
        match kind {
            ResourceKind::User => &self.user,
            ResourceKind::Group => &self.group,
        }
    }

    /// The core schema of `kind`.
    pub fn core_schema(&self, kind: ResourceKind) -> Option<&Schema> {
        self.schema(&self.resource_type(kind).schema)
    }

    /// The common attributes (`id`, `externalId`, `meta`).
    pub fn common(&self) -> &[Attribute] {
        &self.common
    }

    /// The extension schema `urn` if `kind` accepts it; returns the canonical URN too.
    pub fn extension(&self, kind: ResourceKind, urn: &str) -> Option<&Schema> {
        self.resource_type(kind)
            .extensions
            .iter()
            .find(|(u, _)| u.eq_ignore_ascii_case(urn))
            .and_then(|(u, _)| self.schema(u))
    }

    /// A top-level attribute of `kind`'s core schema or the common attributes (no URN given).
    pub fn core_attribute(&self, kind: ResourceKind, name: &str) -> Option<&Attribute> {
        self.common
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .or_else(|| self.core_schema(kind).and_then(|s| s.attribute(name)))
    }

    /// Resolve `[urn:]name[.sub]` for `kind`. A URN naming the core schema means a top-level attribute.
    pub fn resolve(
        &self,
        kind: ResourceKind,
        urn: Option<&str>,
        name: &str,
        sub: Option<&str>,
    ) -> Option<Resolved<'_>> {
        let (container, attr) = match urn {
            // Unqualified names are core attributes first; failing that, an extension attribute
            // (Entra sends `manager` both with and without the enterprise URN).
            None => match self.core_attribute(kind, name) {
                Some(a) => (None, a),
                None => self
                    .resource_type(kind)
                    .extensions
                    .iter()
                    .filter_map(|(u, _)| self.schema(u))
                    .find_map(|s| s.attribute(name).map(|a| (Some(s.id.as_str()), a)))?,
            },
            Some(u) if u.eq_ignore_ascii_case(&self.resource_type(kind).schema) => {
                (None, self.core_attribute(kind, name)?)
            }
            Some(u) => {
                let schema = self.extension(kind, u)?;
                (Some(schema.id.as_str()), schema.attribute(name)?)
            }
        };
        let sub = match sub {
            None => None,
            Some(s) => Some(attr.sub(s)?),
        };
        Some(Resolved {
            container,
            attr,
            sub,
        })
    }
}

fn common_attributes() -> Vec<Attribute> {
    use AttrType::*;
    vec![
        Attribute::new(
            "id",
            String,
            "Unique identifier assigned by the service provider.",
        )
        .case_exact()
        .mutability(Mutability::ReadOnly)
        .returned(Returned::Always)
        .unique(),
        Attribute::new(
            "externalId",
            String,
            "Identifier of the resource as defined by the provisioning client.",
        )
        .case_exact(),
        Attribute::new("meta", Complex, "Resource metadata.")
            .mutability(Mutability::ReadOnly)
            .subs(vec![
                Attribute::new("resourceType", String, "Name of the resource type.")
                    .case_exact()
                    .mutability(Mutability::ReadOnly),
                Attribute::new("created", DateTime, "When the resource was added.")
                    .mutability(Mutability::ReadOnly),
                Attribute::new("lastModified", DateTime, "When the resource last changed.")
                    .mutability(Mutability::ReadOnly),
                Attribute::new("location", Reference, "URI of the resource.")
                    .case_exact()
                    .mutability(Mutability::ReadOnly)
                    .refs(&["uri"]),
                Attribute::new("version", String, "Weak entity tag of the resource.")
                    .case_exact()
                    .mutability(Mutability::ReadOnly),
            ]),
    ]
}

/// `value`/`display`/`type`/`primary`, the shape of most multi-valued attributes (RFC 7643 §2.4).
fn plural(name: &str, description: &str, kind: AttrType, types: &[&str]) -> Attribute {
    use AttrType::*;
    Attribute::new(name, Complex, description)
        .multi()
        .subs(vec![
            Attribute::new("value", kind, "The value."),
            Attribute::new("display", String, "A human-readable name."),
            Attribute::new("type", String, "A label indicating the function.").canonical(types),
            Attribute::new("primary", Boolean, "Whether this is the preferred value."),
        ])
}

fn user_schema() -> Schema {
    use AttrType::*;
    let ro = Mutability::ReadOnly;
    Schema {
        id: USER_SCHEMA.into(),
        name: "User".into(),
        description: "User Account".into(),
        attributes: vec![
            Attribute::new("userName", String, "Unique identifier for the User.")
                .required()
                .unique(),
            Attribute::new("name", Complex, "The components of the user's name.").subs(vec![
                Attribute::new("formatted", String, "The full name."),
                Attribute::new("familyName", String, "The family name."),
                Attribute::new("givenName", String, "The given name."),
                Attribute::new("middleName", String, "The middle name(s)."),
                Attribute::new("honorificPrefix", String, "Honorific prefix(es)."),
                Attribute::new("honorificSuffix", String, "Honorific suffix(es)."),
            ]),
            Attribute::new("displayName", String, "The name displayed to end users."),
            Attribute::new("nickName", String, "The casual way to address the user."),
            Attribute::new("profileUrl", Reference, "URL of the user's online profile.")
                .refs(&["external"]),
            Attribute::new("title", String, "The user's title."),
            Attribute::new(
                "userType",
                String,
                "Relationship between organization and user.",
            ),
            Attribute::new(
                "preferredLanguage",
                String,
                "Preferred written or spoken language.",
            ),
            Attribute::new("locale", String, "Default location for localization."),
            Attribute::new("timezone", String, "Time zone in IANA format."),
            Attribute::new("active", Boolean, "The user's administrative status."),
            Attribute::new("password", String, "The user's clear text password.")
                .mutability(Mutability::WriteOnly)
                .returned(Returned::Never),
            plural(
                "emails",
                "Email addresses.",
                String,
                &["work", "home", "other"],
            ),
            plural(
                "phoneNumbers",
                "Phone numbers.",
                String,
                &["work", "home", "mobile", "fax", "pager", "other"],
            ),
            plural(
                "ims",
                "Instant messaging addresses.",
                String,
                &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
            ),
            plural(
                "photos",
                "URLs of photos.",
                Reference,
                &["photo", "thumbnail"],
            ),
            Attribute::new("addresses", Complex, "Physical mailing addresses.")
                .multi()
                .subs(vec![
                    Attribute::new("formatted", String, "The full mailing address."),
                    Attribute::new("streetAddress", String, "The street address."),
                    Attribute::new("locality", String, "The city or locality."),
                    Attribute::new("region", String, "The state or region."),
                    Attribute::new("postalCode", String, "The zip or postal code."),
                    Attribute::new("country", String, "The country name (ISO 3166-1 alpha-2)."),
                    Attribute::new("type", String, "A label indicating the function.")
                        .canonical(&["work", "home", "other"]),
                    Attribute::new("primary", Boolean, "Whether this is the preferred address."),
                ]),
            Attribute::new("groups", Complex, "Groups the user belongs to.")
                .multi()
                .mutability(ro)
                .subs(vec![
                    Attribute::new("value", String, "The group's id.").mutability(ro),
                    Attribute::new("$ref", Reference, "URI of the group.")
                        .mutability(ro)
                        .refs(&["Group"]),
                    Attribute::new("display", String, "The group's displayName.").mutability(ro),
                    Attribute::new("type", String, "direct or indirect.")
                        .mutability(ro)
                        .canonical(&["direct", "indirect"]),
                ]),
            plural("entitlements", "Entitlements.", String, &[]),
            plural("roles", "Roles.", String, &[]),
            plural("x509Certificates", "X.509 certificates.", Binary, &[]),
        ],
    }
}

fn group_schema() -> Schema {
    use AttrType::*;
    Schema {
        id: GROUP_SCHEMA.into(),
        name: "Group".into(),
        description: "Group".into(),
        attributes: vec![
            Attribute::new(
                "displayName",
                String,
                "A human-readable name for the group.",
            )
            .required()
            .unique(),
            Attribute::new("members", Complex, "A list of members of the group.")
                .multi()
                .subs(vec![
                    Attribute::new("value", String, "Identifier of the member.")
                        .case_exact()
                        .mutability(Mutability::Immutable),
                    Attribute::new("$ref", Reference, "URI of the member.")
                        .case_exact()
                        .mutability(Mutability::Immutable)
                        .refs(&["User", "Group"]),
                    Attribute::new("display", String, "The member's name.")
                        .mutability(Mutability::ReadOnly),
                    Attribute::new("type", String, "The member's resource type.")
                        .mutability(Mutability::Immutable)
                        .canonical(&["User", "Group"]),
                ]),
        ],
    }
}

fn enterprise_user_schema() -> Schema {
    use AttrType::*;
    Schema {
        id: ENTERPRISE_USER_SCHEMA.into(),
        name: "EnterpriseUser".into(),
        description: "Enterprise User".into(),
        attributes: vec![
            Attribute::new(
                "employeeNumber",
                String,
                "Identifier assigned by the organization.",
            ),
            Attribute::new("costCenter", String, "Name of a cost center."),
            Attribute::new("organization", String, "Name of an organization."),
            Attribute::new("division", String, "Name of a division."),
            Attribute::new("department", String, "Name of a department."),
            Attribute::new("manager", Complex, "The user's manager.").subs(vec![
                Attribute::new("value", String, "The id of the manager.").case_exact(),
                Attribute::new("$ref", Reference, "URI of the manager.").refs(&["User"]),
                Attribute::new("displayName", String, "The manager's displayName.")
                    .mutability(Mutability::ReadOnly),
            ]),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_case_insensitively_to_canonical_definitions() {
        let r = Registry::core();
        let a = r
            .resolve(ResourceKind::User, None, "USERNAME", None)
            .unwrap();
        assert_eq!(a.attr.name, "userName");
        assert!(a.container.is_none());
        let e = r
            .resolve(
                ResourceKind::User,
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"),
                "Manager",
                Some("VALUE"),
            )
            .unwrap();
        assert_eq!(e.container, Some(ENTERPRISE_USER_SCHEMA));
        assert_eq!(e.target().name, "value");
        let core_urn = r
            .resolve(
                ResourceKind::User,
                Some(USER_SCHEMA),
                "name",
                Some("givenName"),
            )
            .unwrap();
        assert!(core_urn.container.is_none());
        assert!(r
            .resolve(ResourceKind::Group, None, "userName", None)
            .is_none());
        assert!(r
            .resolve(
                ResourceKind::Group,
                Some(ENTERPRISE_USER_SCHEMA),
                "department",
                None
            )
            .is_none());
        assert_eq!(
            r.resolve(ResourceKind::Group, None, "id", None)
                .unwrap()
                .attr
                .returned,
            Returned::Always
        );
    }

    /// The names are a wire contract (`/Schemas`, `meta.resourceType`) and a configuration
    /// contract (case-insensitive in `[[extensions]]`): pin them, in order, and their parsing.
    #[test]
    fn enum_names_are_the_rfc_ones_and_parse_back_in_any_case() {
        fn table<T>(want: &[&str])
        where
            T: FromStr + VariantNames + Into<&'static str>,
        {
            assert_eq!(T::VARIANTS, want);
            for name in want {
                for text in [
                    (*name).to_owned(),
                    name.to_ascii_lowercase(),
                    name.to_ascii_uppercase(),
                ] {
                    let parsed: T = text.parse().unwrap_or_else(|_| panic!("{text}"));
                    assert_eq!(parsed.into(), *name);
                }
            }
            assert!("nonsense".parse::<T>().is_err());
        }
        #[rustfmt::skip]
        table::<AttrType>(&["string", "boolean", "decimal", "integer", "dateTime", "binary", "reference", "complex"]);
        table::<Mutability>(&["readOnly", "readWrite", "immutable", "writeOnly"]);
        table::<Returned>(&["always", "never", "default", "request"]);
        table::<Uniqueness>(&["none", "server", "global"]);
        table::<ResourceKind>(&["User", "Group"]);
    }

    #[test]
    fn schema_documents_have_no_nulls() {
        let r = Registry::core();
        for s in r.schemas() {
            let text = s.to_json("https://h/scim/v2").to_string();
            assert!(!text.contains("null"), "{text}");
        }
    }
}

/// The registry seen from one resource type, as the filter evaluator needs it.
#[derive(Debug, Clone, Copy)]
pub struct KindTypes<'a> {
    reg: &'a Registry,
    kind: ResourceKind,
}

impl Registry {
    /// Attribute lookups for filters over `kind`.
    pub fn types(&self, kind: ResourceKind) -> KindTypes<'_> {
        KindTypes { reg: self, kind }
    }
}

impl<'a> KindTypes<'a> {
    /// Lookups relative to one element of `outer` (the paths inside `emails[...]`).
    pub fn element(self, outer: &super::filter::AttrPath) -> ElementTypes<'a> {
        ElementTypes {
            types: self,
            outer: outer.clone(),
        }
    }
}

impl super::filter::AttrTypes for KindTypes<'_> {
    fn locate(&self, path: &super::filter::AttrPath) -> Option<super::filter::Located> {
        let r = self.reg.resolve(
            self.kind,
            path.urn.as_deref(),
            &path.name,
            path.sub.as_deref(),
        )?;
        let target = r.target();
        Some(super::filter::Located {
            container: r.container.map(str::to_owned),
            name: r.attr.name.clone(),
            sub: r.sub.map(|s| s.name.clone()),
            kind: target.kind,
            case_exact: target.case_exact,
            multi_valued: r.attr.multi_valued,
        })
    }
}

/// Lookups for a filter whose paths are sub-attributes of one outer attribute.
#[derive(Debug, Clone)]
pub struct ElementTypes<'a> {
    types: KindTypes<'a>,
    outer: super::filter::AttrPath,
}

impl super::filter::AttrTypes for ElementTypes<'_> {
    fn locate(&self, path: &super::filter::AttrPath) -> Option<super::filter::Located> {
        if path.sub.is_some() || path.urn.is_some() {
            return None;
        }
        self.types.locate(&super::filter::AttrPath {
            urn: self.outer.urn.clone(),
            name: self.outer.name.clone(),
            sub: Some(path.name.clone()),
        })
    }
}
