//! What the SCIM endpoint publishes about itself (RFC 7643 §5–7): the
//! service provider configuration, the two resource types, and the schemas
//! of the attributes Sesame keeps — the ones its access flows read (e-mail,
//! name, groups, manager, department and the other enterprise attributes).

use serde_json::{json, Value};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// The most resources one page returns.
pub const MAX_PAGE: usize = 200;

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/sesame/sesame#people-from-an-identity-provider-scim",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_PAGE},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{"type": "oauthbearertoken", "name": "Bearer token", "description": "A token from `sesame token issue --scim`", "primary": true}],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
    })
}

pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "User", "name": "User", "endpoint": "/Users",
               "description": "People who request and approve access", "schema": USER,
               "schemaExtensions": [{"schema": ENTERPRISE, "required": false}],
               "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "Group", "name": "Group", "endpoint": "/Groups",
               "description": "Groups that access flows name", "schema": GROUP,
               "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")}}),
    ]
}

fn attr(name: &str, ty: &str, description: &str) -> Value {
    json!({"name": name, "type": ty, "multiValued": false, "description": description, "required": false, "caseExact": false,
           "mutability": "readWrite", "returned": "default", "uniqueness": "none"})
}

fn with(mut a: Value, extra: Value) -> Value {
    if let (Some(o), Some(e)) = (a.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    a
}

pub fn schemas(base: &str) -> Vec<Value> {
    let email = with(attr("emails", "complex", "E-mail addresses; the primary one (or the userName) is the person's identity in Sesame"), json!({"multiValued": true, "subAttributes": [
        attr("value", "string", "An e-mail address"),
        attr("type", "string", "work, home or other"),
        attr("primary", "boolean", "The address Sesame uses"),
    ]}));
    let user = json!({"schemas": [SCHEMA], "id": USER, "name": "User", "description": "A person", "attributes": [
        with(attr("userName", "string", "Unique; an e-mail address"), json!({"required": true, "uniqueness": "server"})),
        with(attr("name", "complex", "The person's name"), json!({"subAttributes": [
            attr("formatted", "string", "The full name"), attr("familyName", "string", "Family name"), attr("givenName", "string", "Given name"),
        ]})),
        attr("displayName", "string", "The name shown to approvers"),
        attr("title", "string", "Job title"),
        email,
        attr("active", "boolean", "An inactive person holds no access: deactivating revokes their grants and withdraws their requests"),
        with(attr("groups", "complex", "The groups the person is a member of"), json!({"multiValued": true, "mutability": "readOnly", "subAttributes": [
            with(attr("value", "string", "The group's id"), json!({"mutability": "readOnly"})),
            with(attr("$ref", "reference", "The group's URI"), json!({"referenceTypes": ["Group"], "mutability": "readOnly"})),
            with(attr("display", "string", "The group's name"), json!({"mutability": "readOnly"})),
        ]})),
    ], "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{USER}")}});
    let enterprise = json!({"schemas": [SCHEMA], "id": ENTERPRISE, "name": "EnterpriseUser", "description": "Enterprise attributes", "attributes": [
        attr("employeeNumber", "string", "Employee number"),
        attr("costCenter", "string", "Cost center"),
        attr("organization", "string", "Organization"),
        attr("division", "string", "Division"),
        attr("department", "string", "Department (access flows read it as `department`)"),
        with(attr("manager", "complex", "The person's manager, who approves `manager` parts"), json!({"subAttributes": [
            attr("value", "string", "The manager's id"),
            with(attr("$ref", "reference", "The manager's URI"), json!({"referenceTypes": ["User"]})),
            with(attr("displayName", "string", "The manager's name"), json!({"mutability": "readOnly"})),
        ]})),
    ], "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{ENTERPRISE}")}});
    let group = json!({"schemas": [SCHEMA], "id": GROUP, "name": "Group", "description": "A group", "attributes": [
        with(attr("displayName", "string", "Unique; the name access flows use"), json!({"required": true, "uniqueness": "server"})),
        with(attr("members", "complex", "The group's members"), json!({"multiValued": true, "subAttributes": [
            with(attr("value", "string", "A member's id"), json!({"mutability": "immutable"})),
            with(attr("$ref", "reference", "The member's URI"), json!({"referenceTypes": ["User"], "mutability": "immutable"})),
            with(attr("display", "string", "The member's name"), json!({"mutability": "readOnly"})),
            with(attr("type", "string", "User"), json!({"canonicalValues": ["User"], "mutability": "immutable"})),
        ]})),
    ], "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{GROUP}")}});
    vec![user, enterprise, group]
}
