// The interactive API reference at /docs: Swagger UI over the OpenAPI document @fastify/swagger builds from the routes.
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/**
 * Swagger UI's own scripts and styles, served by Fiducia (nothing from a CDN): scripts from this origin only, styles
 * from this origin plus the inline style attributes its components set, requests ("Try it out") to this origin only.
 * The CSP replaces helmet's lock-down on these routes alone (the plugin's hook is scoped to its own routes).
 */
const DOCS_CSP = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

export async function registerApiDocs(app: FastifyInstance): Promise<void> {
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: DOCS_CSP,
    // No badge from validator.swagger.io: the page asks nothing of any other host.
    uiConfig: { validatorUrl: null, deepLinking: true, tryItOutEnabled: false, persistAuthorization: false },
    theme: { title: 'Fiducia API' },
  });
}
