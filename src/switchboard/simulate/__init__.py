"""`switchboard simulate`: realistic, signed provider traffic for a running service.

`traffic` writes the conversations (what each provider would post, in what order, with which
duplicates), `signing` turns a delivery into the HTTP request the provider would make, signed
with the secrets the service uses, and `runner` paces the requests and summarises the answers.
"""

from switchboard.simulate.runner import Summary, simulate

__all__ = ["Summary", "simulate"]
