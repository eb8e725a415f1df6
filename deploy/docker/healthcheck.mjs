/* global fetch, AbortSignal */
// The image's HEALTHCHECK: GET /healthz on this process's ops port (no curl in the slim image).
// Exit 0 when it answers 200 within 2 s, 1 otherwise. The migrate and topics jobs have no port:
// their container exits instead, and the check is not run on them by Kubernetes.
const port = process.env.HTTP_PORT || '8080';
try {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
  process.exit(response.status === 200 ? 0 : 1);
} catch {
  process.exit(1);
}
