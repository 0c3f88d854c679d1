"""Configuration: the environment file, recipes, Publik's catalogue, derived names, secrets."""
