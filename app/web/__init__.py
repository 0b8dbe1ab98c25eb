"""What every people-facing blueprint shares: access rules, template helpers, the test hooks."""
