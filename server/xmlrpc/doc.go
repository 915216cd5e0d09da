// Package xmlrpc is a strict XML-RPC codec for /RPC2: it decodes method
// calls with bounded size and nesting and no DTDs or entities, and encodes
// responses and faults as Python's xmlrpc.client reads them (allow_none).
package xmlrpc
