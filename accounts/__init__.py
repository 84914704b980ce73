"""Who may sign in and what they belong to: local accounts, the city's directory (LDAP / Active Directory) and its
OpenID Connect provider, the agencies and groups they map to, and the administrators' API over them."""
