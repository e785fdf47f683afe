export { jsonToXml } from './convert/json-to-xml.ts';
export { elementToJson, xmlToJson } from './convert/xml-to-json.ts';
