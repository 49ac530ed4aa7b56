"""The HTTP edge for providers: verify, translate, call one service, answer as they expect."""
