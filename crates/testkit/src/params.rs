//! One builder for the parameters of an integration action in tests.

use sesame_proto::ActionParams;

/// A grant of `permission` on one `resource` of `resource_type` to
/// `username`, whose grant id is the username; refine it with [`Refine`].
pub fn grant(username: &str, resource_type: &str, resource: &str, permission: &str) -> ActionParams {
    ActionParams {
        grant_id: username.into(),
        username: username.into(),
        resource_type: resource_type.into(),
        resources: vec![resource.into()],
        permission: permission.into(),
        custom_parameters: Default::default(),
    }
}

/// What tests change on a [`grant`].
pub trait Refine {
    /// Several resources instead of one.
    fn on(self, resources: &[&str]) -> Self;
    fn grant_id(self, id: &str) -> Self;
    /// Who asked (the `requester` custom parameter AWS integrations read).
    fn requested_by(self, email: &str) -> Self;
}

impl Refine for ActionParams {
    fn on(mut self, resources: &[&str]) -> Self {
        self.resources = resources.iter().map(|r| (*r).to_owned()).collect();
        self
    }

    fn grant_id(mut self, id: &str) -> Self {
        self.grant_id = id.into();
        self
    }

    fn requested_by(mut self, email: &str) -> Self {
        self.custom_parameters.insert(sesame_proto::REQUESTER_PARAM.to_owned(), email.to_owned());
        self
    }
}
