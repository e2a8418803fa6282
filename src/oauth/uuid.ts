// Lease ids are UUIDs: anything else in a `jti` or `auth_req_id` is refused before a query.
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
