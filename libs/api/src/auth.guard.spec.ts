import 'reflect-metadata';
import { METHOD_METADATA, MODULE_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { RequestMethod } from '@nestjs/common';
import { ApiModule } from './api.module.js';

type Route = { controller: string; handler: string; method: string; roles: unknown; isPublic: unknown };

/** Every route of the API's controllers, with the access metadata the guard reads. */
function routes(): Route[] {
  const controllers = Reflect.getMetadata(MODULE_METADATA.CONTROLLERS, ApiModule) as (new (
    ...args: never[]
  ) => object)[];
  return controllers.flatMap((controller) => {
    const prototype = controller.prototype as Record<string, unknown>;
    return Object.getOwnPropertyNames(prototype).flatMap((name) => {
      const handler = prototype[name];
      if (
        name === 'constructor' ||
        typeof handler !== 'function' ||
        Reflect.getMetadata(PATH_METADATA, handler) === undefined
      )
        return [];
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number] ?? '?';
      const read = (key: string): unknown =>
        (Reflect.getMetadata(key, handler) as unknown) ?? (Reflect.getMetadata(key, controller) as unknown);
      return [
        {
          controller: controller.name,
          handler: name,
          method,
          roles: read('artifactstore:roles'),
          isPublic: read('artifactstore:public'),
        },
      ];
    });
  });
}

/** The lifecycle routes of packages only an admin may call (a producer may delete, that is abort, its own). */
const ADMIN_PACKAGE_ROUTES = [
  'PUT PackagesController.hold',
  'DELETE PackagesController.release',
  'PATCH PackagesController.changeRetention',
  'DELETE TagsController.remove',
];

describe('route access', () => {
  it('is declared on every route: public, or the roles that may call it', () => {
    const all = routes();
    expect(all.length).toBeGreaterThan(15);
    const undeclared = all.filter((route) => route.isPublic !== true && !Array.isArray(route.roles));
    expect(undeclared.map((route) => `${route.controller}.${route.handler}`)).toEqual([]);
  });

  it('lets readers only read, producers write packages, and only admins reach the admin routes', () => {
    for (const route of routes()) {
      if (route.isPublic === true) continue;
      const roles = route.roles as string[];
      const where = `${route.method} ${route.controller}.${route.handler}`;
      if (route.controller === 'AdminController' || ADMIN_PACKAGE_ROUTES.includes(where))
        expect({ where, roles }).toEqual({ where, roles: ['admin'] });
      else if (route.method === 'GET' || route.method === 'HEAD')
        expect({ where, roles }).toEqual({ where, roles: ['reader', 'producer', 'admin'] });
      else expect({ where, roles }).toEqual({ where, roles: ['producer', 'admin'] });
    }
  });
});
