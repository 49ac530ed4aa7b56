"""Cases: what a customer needs done, moved through a fixed workflow, every move audited."""
