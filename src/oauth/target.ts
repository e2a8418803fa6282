// Which template a token request is for: `resource` (RFC 8707) and/or `audience` (RFC 8693) name
// one resource; the jwt template with that audience whose scopes cover the request is the one.
// None or several is `invalid_target`; an explicit template (authorization_details) disambiguates.
import type { JwtTemplate, Template } from '../providers/templates.js';
import { oauthErrors } from './errors.js';

export interface TargetRequest {
  resources: string[];
  audiences: string[];
  /** The `template` of authorization_details, if any. */
  template: string | undefined;
  /** The requested scopes (the intent's actions), if any. */
  scopes: string[] | undefined;
}

/** The one resource the request names, or undefined when it names none. */
export function requestedResource(
  request: Pick<TargetRequest, 'resources' | 'audiences'>,
): string | undefined {
  const named = new Set([...request.resources, ...request.audiences]);
  if (named.size > 1) {
    throw oauthErrors.invalidTarget('a token is bound to exactly one resource; the request names several');
  }
  const [resource] = named;
  // RFC 8707 §2: an absolute URI without a fragment. An audience may be a plain logical name.
  if (resource !== undefined && request.resources.length > 0) {
    if (!URL.canParse(resource) || resource.includes('#')) {
      throw oauthErrors.invalidTarget('resource must be an absolute URI without a fragment');
    }
  }
  return resource;
}

export function selectTemplate(
  templates: ReadonlyMap<string, Template>,
  request: TargetRequest,
): JwtTemplate {
  const resource = requestedResource(request);
  if (request.template !== undefined) {
    const named = templates.get(request.template);
    if (named === undefined || named.provider !== 'jwt') {
      throw oauthErrors.invalidTarget('the template of authorization_details does not issue tokens here');
    }
    if (resource !== undefined && named.audience !== resource) {
      throw oauthErrors.invalidTarget(
        'the template of authorization_details is not for the requested resource',
      );
    }
    return named;
  }
  if (resource === undefined) {
    throw oauthErrors.invalidTarget('name the resource the token is for (resource or audience)');
  }
  const byAudience = [...templates.values()].filter(
    (t): t is JwtTemplate => t.provider === 'jwt' && t.audience === resource,
  );
  const scopes = request.scopes ?? [];
  const covering = byAudience.filter((t) => scopes.every((s) => t.scopes.includes(s)));
  if (covering.length === 1) return covering[0]!;
  if (covering.length === 0) {
    throw oauthErrors.invalidTarget(
      byAudience.length === 0
        ? 'no resource of this broker matches the requested resource or audience'
        : 'no template for this resource covers the requested scope',
    );
  }
  throw oauthErrors.invalidTarget(
    'several templates match this resource and scope; name one in authorization_details (template)',
  );
}
