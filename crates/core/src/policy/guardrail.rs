//! The seed's guardrail: more than 100 AWS resources selected by name is
//! refused by default (configurable), before anything is submitted.

pub const DEFAULT_NAMED_RESOURCE_LIMIT: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guardrail {
    pub selected: usize,
    pub limit: usize,
}

impl std::fmt::Display for Guardrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} AWS resources are selected by name; the limit is {}: select fewer or split the request (an admin can change the integration's `named_resource_limit`)",
            self.selected, self.limit
        )
    }
}

pub fn check_selection(named: usize, limit: usize) -> Result<(), Guardrail> {
    if named > limit {
        return Err(Guardrail { selected: named, limit });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hundred_pass_a_hundred_and_one_do_not() {
        assert!(check_selection(100, DEFAULT_NAMED_RESOURCE_LIMIT).is_ok());
        let e = check_selection(101, DEFAULT_NAMED_RESOURCE_LIMIT).unwrap_err();
        assert!(e.to_string().starts_with("101 AWS resources are selected by name; the limit is 100"));
        assert!(check_selection(1000, 2000).is_ok());
    }
}
