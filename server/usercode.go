package server

// Where user code runs. Authorize, CheckOrigin, every hook, Init, OnClose and
// handlers run on a worker (the server's WorkerPool) or on the connection's
// own goroutine, never on a netpoll poller, which serves many connections:
// a slow one delays only its own connection, and a panic in one is
// recovered and logged with its stack. The netpoll engine asks these to
// know when a connection's work must leave its poller.

// needsRequest reports whether admitting an upgrade runs user code that
// needs an *http.Request: then the quick upgrade never admits. A new rule
// of admit's that reads the request must be added here.
func (s *Server) needsRequest() bool {
	h := s.opts.Hooks
	return s.opts.Authorize != nil || s.opts.CheckOrigin != nil || s.opts.Identify != nil ||
		h != nil && (h.OnOpen != nil || h.OnAuthFail != nil || h.OnAuthSuccess != nil || h.OnUpgradeFail != nil)
}

// userAtUpgrade reports whether the upgrade of a connection, up to its
// first messages, runs user code: admission, OnConnect, or per-message
// hooks for the frames that came with the request.
func (s *Server) userAtUpgrade() bool {
	h := s.opts.Hooks
	return s.needsRequest() || h != nil && h.OnConnect != nil || s.readsOnWorker()
}

// readsOnWorker reports whether every message runs user code besides its
// route's handler (OnEvent, or a call hook): the netpoll engine then
// handles each read's messages on a worker.
func (s *Server) readsOnWorker() bool {
	h := s.opts.Hooks
	return s.opts.OnEvent != nil || h != nil && (h.OnCallStart != nil || h.OnCallSuccess != nil || h.OnCallFail != nil)
}

// closeHookRuns reports whether ending a connection runs user code (the
// OnClose hook): the netpoll engine then ends connections on a worker.
func (s *Server) closeHookRuns() bool {
	h := s.opts.Hooks
	return h != nil && h.OnClose != nil
}
