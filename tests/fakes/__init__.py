"""Local fakes of the platforms, one module a platform, each following the contract its platform documents
(``../shared/research/api_contracts.md``): the real channel code is tested against them. ``base.py`` holds what
they share; adding a platform adds its module and changes none of the others."""
