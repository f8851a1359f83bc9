// The sample handler of the seed's "AWS Lambda Custom Integration" guide, unmodified.
function listResources(params) {
return {
resources: [
{
'id': 'resource1',
'name': 'Resource 1',
'type': params.resource_type,
'metadata': {
'key1': 'value1'
}
},
{
'id': 'resource2',
'name': 'Resource 2',
'type': params.resource_type,
'metadata': {
'key2': 'value2'
}
},
{
'id': 'resource3',
'name': 'Resource 3',
'type': params.resource_type,
'metadata': {
'key3': 'value3'
}
},
],
permissions: [
{
'id': 'admin',
'name': 'Admin'
},
{
'id': 'reader',
'name': 'Reader'
}
]
};
}
function grantAccess(params) {
const username = params.username;
const grantId = params.grant_id;
const resources = params.resources;
const permission = params.permission;
const param1 = params.custom_parameters.param1
const param2 = params.custom_parameters.param2
console.log(param1)
console.log(param2)
return {
status: 'ok'
};
}
function revokeAccess(params) {
const username = params.username;
const grantId = params.grant_id;
const resources = params.resources;
const permission = params.permission;
const param1 = params.custom_parameters.param1
const param2 = params.custom_parameters.param2
return {
status: 'ok'
};
}
function createCredentials(params) {
const username = params.username;
const grantId = params.grant_id;
const resources = params.resources;
const param1 = params.custom_parameters.param1
const param2 = params.custom_parameters.param2
return {
status: 'ok'
};
}
export const handler = async (event) => {
const params = event.params;
switch (event.event_type) {
case 'create-credentials':
return createCredentials(params);
case 'list-resources':
return listResources(params);
case 'grant-access':
return grantAccess(params);
case 'revoke-access':
return revokeAccess(params);
case 'create-credentials':
return {
status: 'ok',
secret: 'created-credentials-secret'
}
case 'reset-credentials':
return {
status: 'ok',
secret: 'reset-credentials-secret'
}
default:
return {
status: 'active'
};
}
};
