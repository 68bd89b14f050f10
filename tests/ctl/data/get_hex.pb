
ı½Óò³Ë×óŒ«¤Ïš»›å{ 
binkey *binÿ
empty 
foo *baz
leased *v0‹œğİ¢Á¨Æ
quote *"q"\tx
sp ace *hello world 