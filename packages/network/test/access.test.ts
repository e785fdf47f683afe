// The access tests of the local network, on one network (access/shared.ts): each former file is a suite of its own,
// run in this order because some change what the others see. `auth` reads EDS's AuditEvents for the gp and counts
// them, and `patient-access` counts the gp's inbox, so both run before anything else sends to the gp;
// `console-signin` creates its own accounts and throttles one of them; `access-edges` revokes the maintainer's TLS
// client certificate (no EER write works after it), so it runs last.
import { after } from 'node:test';
import { closeSharedNetwork } from './access/shared.ts';
import './access/auth.ts';
import './access/patient-access.ts';
import './access/msh-access.ts';
import './access/console-signin.ts';
import './access/access-edges.ts';

after(closeSharedNetwork);
