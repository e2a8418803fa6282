// What discovery documents (RFC 8414, OpenID Connect Discovery) say about the token endpoint.
import { AUTHORIZATION_DETAILS_TYPE, GRANT_TYPES } from './vocabulary.js';

export const TOKEN_PATH = '/v1/token';

export function tokenEndpointMetadata(publicUrl: string) {
  return {
    token_endpoint: `${publicUrl}${TOKEN_PATH}`,
    grant_types_supported: [...GRANT_TYPES],
    // No client secret: the workload proves itself with its identity token in the request.
    token_endpoint_auth_methods_supported: ['none'],
    authorization_details_types_supported: [AUTHORIZATION_DETAILS_TYPE],
    backchannel_token_delivery_modes_supported: ['poll'],
  };
}
